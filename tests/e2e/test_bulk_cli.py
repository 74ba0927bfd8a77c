#!/usr/bin/python3
"""End-to-end test of bulk runs: `polyp extract --shard`, restarts, `polyp status`.

usage: test_bulk_cli.py PATH/TO/polyp

Inputs: the four synthetic fixture images (tests/fixtures/effnet) linked under 40 names in
nested folders, 3 seeded random points each, and the seeded test network.
1. Shards: every --shard I/N run for N in {1, 3, 7} together writes exactly the files of
   one unsharded run, byte for byte, each image once; the images of a shard are those
   shard.h's formula (computed here in Python) gives it; bad --shard values are refused with a
   one-line message naming the value, before any work.
(More sections are added below as the features land.)
Needs numpy (Debian's /usr/bin/python3); exits 77 (ctest: skipped) without it.
"""
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "effnet")
IMAGES = {"synth_300x200.png": (300, 200), "synth_57x41.png": (57, 41), "synth_gray_64x64.png": (64, 64),
          "synth_rgba_80x60.png": (80, 60)}
POLYP = None
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, file=sys.stderr)
    return cond


def run(args, **kw):
    return subprocess.run([POLYP] + args, capture_output=True, text=True, **kw)


def shard_of(name, n):
    """shard.h's formula, written out independently of the C code."""
    m = 2 ** 64
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) % m
    h ^= h >> 30
    h = h * 0xbf58476d1ce4e5b9 % m
    h ^= h >> 27
    h = h * 0x94d049bb133111eb % m
    h ^= h >> 31
    return h % n


def make_inputs(tmp, count=40, per_image=3, seed=11):
    """count names (some in subfolders) linked to the fixture images; a CSV of their points."""
    rng = random.Random(seed)
    images = os.path.join(tmp, "images")
    os.makedirs(images, exist_ok=True)
    sources = sorted(IMAGES)
    names = []
    rows = []
    for k in range(count):
        src = sources[k % len(sources)]
        name = ("site%d/" % (k % 3) if k % 2 else "") + "img_%03d.png" % k
        path = os.path.join(images, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.join(FIX, src), path)  # linked, never copied
        w, h = IMAGES[src]
        names.append(name)
        for _ in range(per_image):
            rows.append((name, rng.randrange(h), rng.randrange(w)))
    points = os.path.join(tmp, "points.csv")
    with open(points, "w") as f:
        f.write("Name,Row,Column\n")
        for r in rows:
            f.write("%s,%d,%d\n" % r)
    return images, points, names


def outputs(out):
    """{relative path: bytes} of every file under out."""
    res = {}
    for d, _, fs in os.walk(out):
        for f in fs:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                res[os.path.relpath(p, out)] = fh.read()
    return res


def one_line_error(args, needle, label):
    r = run(args)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode != 0, "%s: exit status 0" % label)
    check(len(lines) == 1, "%s: %d lines on stderr: %r" % (label, len(lines), r.stderr))
    check(needle in r.stderr, "%s: %r not in %r" % (label, needle, r.stderr))


def test_shards(tmp, base, names):
    single = os.path.join(tmp, "single")
    r = run(base + ["--out", single])
    if not check(r.returncode == 0, "unsharded run failed: %s" % r.stderr):
        return None
    ref = outputs(single)
    check(sorted(ref) == sorted(n + ".featurevector" for n in names), "unsharded run wrote %r" % sorted(ref))
    for n in (1, 3, 7):
        union = os.path.join(tmp, "union%d" % n)
        seen = {}
        for i in range(n):
            part = os.path.join(tmp, "shard%d_%d" % (n, i))
            r = run(base + ["--out", part, "--shard", "%d/%d" % (i, n)])
            check(r.returncode == 0, "shard %d/%d failed: %s" % (i, n, r.stderr))
            got = outputs(part) if os.path.isdir(part) else {}
            want = sorted(x + ".featurevector" for x in names if shard_of(x, n) == i)
            check(sorted(got) == want, "shard %d/%d wrote %r, expected %r" % (i, n, sorted(got), want))
            for k, v in got.items():
                check(k not in seen, "%s written by shards %d and %d of %d" % (k, seen.get(k, -1), i, n))
                seen[k] = i
                # The union: what a shared output folder holds after all tasks.
                dst = os.path.join(union, k)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(v)
        check(outputs(union) == ref, "union of %d shards differs from the unsharded run" % n)
    print("shards: union of 1, 3 and 7 shards equals the unsharded run byte for byte (%d images)" % len(ref))
    for bad, needle in (("3/2", "'3/2'"), ("-1/4", "'-1/4'"), ("a/b", "'a/b'"), ("0/0", "'0/0'"),
                        ("1/0", "'1/0'"), ("4", "'4'"), ("99999999999999999999/4", "too large"),
                        ("0/4294967297", "too large")):
        one_line_error(base + ["--out", os.path.join(tmp, "bad"), "--shard", bad], needle, "--shard %s" % bad)
    check(not os.path.exists(os.path.join(tmp, "bad")), "a refused --shard still created the output folder")
    return ref


def main():
    global POLYP
    POLYP = os.path.abspath(sys.argv[1])
    try:
        import numpy  # noqa: F401  (the feature files are also read back with numpy below)
    except ImportError:
        print("SKIPPED: numpy not available", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "w.safetensors")
        r = run(["testnet", "--out", weights])
        if not check(r.returncode == 0, "polyp testnet failed: %s" % r.stderr):
            return 1
        images, points, names = make_inputs(tmp)
        base = ["extract", "--weights", weights, "--images", images, "--points", points, "--threads", "2",
                "--backend", "portable"]
        test_shards(tmp, base, names)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        return 1
    print("all bulk-run checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
