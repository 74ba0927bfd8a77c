#!/usr/bin/python3
"""End-to-end test of `polyp extract` against the PyTorch reference features.

usage: test_extract_cli.py PATH/TO/polyp

1. `polyp testnet` writes the seeded test network (the one models/testnet.py builds).
2. The points of tests/fixtures/effnet/cases.csv (synthetic images; plus the
   ../shared/testdata parity images when POLYP_TESTDATA points at that folder, whose names
   contain '/' and so exercise nested output folders) go into a CoralNet-style CSV with the
   images interleaved, so grouping by image must restore each image's point order.
3. `polyp extract` runs; each OUT/<Name>.featurevector is loaded with numpy.load and compared
   with models/make_fixtures.py's PyTorch features (tests/fixtures/effnet/features.f32):
   meta, rows, cols exact, features within 1e-4 absolute.
   --backend auto is probed on one image and compared in full only when it is not portable.
4. A rerun skips every finished image (files untouched); deleting one output and rerunning
   redoes only that one (and removes the temp file a killed run left); --overwrite rewrites the images of its CSV and nothing else; no
   *.tmp-* file is left anywhere.
5. Ctrl-C (SIGINT) during a run stops after the current image with a resume message, leaves
   no temporary file, and a rerun finishes the rest.
6. Bad inputs fail with a non-zero status and a one-line reason on stderr.
Needs numpy (Debian's /usr/bin/python3); exits 77 (ctest: skipped) without it.
"""
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, finish, init, make_testnet, one_line_error, run  # noqa: E402

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy not available", file=sys.stderr)
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "effnet")
TOL = 1e-4
POLYP = None


def load_cases(testdata):
    cases = []
    with open(os.path.join(FIX, "cases.csv")) as f:
        for k, r in enumerate(csv.DictReader(f)):
            cases.append((k, r["source"], r["image"], int(r["row"]), int(r["col"])))
    feats = np.fromfile(os.path.join(FIX, "features.f32"), dtype="<f4").reshape(len(cases), 1280)
    use = [c for c in cases if c[1] == "fixtures" or (c[1] == "testdata" and testdata)]
    return use, feats


def make_inputs(tmp, cases, testdata):
    images = os.path.join(tmp, "images")
    os.makedirs(images)
    for _, source, name, _, _ in cases:
        top = name.split("/")[0]
        link = os.path.join(images, top)
        if os.path.lexists(link):
            continue
        target = os.path.join(FIX if source == "fixtures" else testdata, top)
        os.symlink(target, link)  # the test data is linked, never copied
    # Interleave images: take one point from each image in turn.
    per_image = {}
    for c in cases:
        per_image.setdefault(c[2], []).append(c)
    order = []
    while any(per_image.values()):
        for name in list(per_image):
            if per_image[name]:
                order.append(per_image[name].pop(0))
    points = os.path.join(tmp, "points.csv")
    with open(points, "w", newline="") as f:
        # CoralNet export style: extra columns, "Label code", CRLF line ends.
        f.write("Name,Date,Row,Column,Label code\r\n")
        for _, _, name, row, col in order:
            f.write("%s,2026-01-01,%d,%d,X\r\n" % (name, row, col))
    return images, points, order


def expected_by_image(order, feats):
    exp = {}
    for k, _, name, row, col in order:
        e = exp.setdefault(name, {"rows": [], "cols": [], "feat": []})
        e["rows"].append(row)
        e["cols"].append(col)
        e["feat"].append(feats[k])
    return exp


def compare_outputs(out, exp, label):
    worst = 0.0
    for name, e in exp.items():
        path = os.path.join(out, name + ".featurevector")
        if not check(os.path.isfile(path), "%s: %s missing" % (label, path)):
            continue
        with np.load(path) as z:
            n = len(e["rows"])
            check(z["meta"].dtype == np.int64 and list(z["meta"]) == [1, n, 1280],
                  "%s: %s meta %r" % (label, name, z["meta"]))
            check(z["rows"].dtype == np.uint16 and list(z["rows"]) == e["rows"], "%s: %s rows" % (label, name))
            check(z["cols"].dtype == np.uint16 and list(z["cols"]) == e["cols"], "%s: %s cols" % (label, name))
            feat = z["feat"]
            check(feat.dtype == np.float64 and feat.shape == (n, 1280), "%s: %s feat %s %s"
                  % (label, name, feat.dtype, feat.shape))
            if feat.shape == (n, 1280):
                diff = float(np.abs(feat - np.array(e["feat"], dtype=np.float64)).max())
                worst = max(worst, diff)
                check(diff <= TOL, "%s: %s features differ from PyTorch by %.3g (> %g)" % (label, name, diff, TOL))
    print("%s: %d images, max |polyp - PyTorch| = %.3g" % (label, len(exp), worst))


def tmp_leftovers(out):
    return [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if ".tmp-" in f]


def snapshot(out):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, fs in os.walk(out) for f in fs if ".tmp-" not in f}


def main():
    global POLYP
    POLYP = os.path.abspath(sys.argv[1])
    init(POLYP)
    td = os.environ.get("POLYP_TESTDATA")
    testdata = td if td and os.path.isdir(os.path.join(td, "parity-images")) else None
    threads = os.environ.get("POLYP_E2E_THREADS", "2")
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "w.safetensors")
        if not make_testnet(weights):
            return 1
        cases, feats = load_cases(testdata)
        images, points, order = make_inputs(tmp, cases, testdata)
        exp = expected_by_image(order, feats)
        out = os.path.join(tmp, "out")
        base = ["extract", "--weights", weights, "--images", images, "--points", points, "--out", out,
                "--threads", threads]

        # --- 3. first run, portable backend (the reference), then auto (xnnpack when built)
        t = time.time()
        r = run(base + ["--backend", "portable"])
        check(r.returncode == 0, "extract failed: %s" % r.stderr)
        print("portable run: %.1f s (%d points, %d images)" % (time.time() - t, len(order), len(exp)))
        compare_outputs(out, exp, "portable")
        # auto: probe on one image; the full comparison only when auto is not portable again.
        small_name = "synth_57x41.png"
        small = os.path.join(tmp, "small.csv")
        with open(small, "w") as f:
            f.write("Name,Row,Column\n")
            for _, _, name, row, col in order:
                if name == small_name:
                    f.write("%s,%d,%d\n" % (name, row, col))
        small_exp = {small_name: exp[small_name]}
        out_auto = os.path.join(tmp, "out_auto")
        auto = base[:-4] + ["--out", out_auto, "--threads", threads, "--backend", "auto", "--batch", "3"]
        r = run(auto[:6] + [small] + auto[7:])
        check(r.returncode == 0, "extract --backend auto failed: %s" % r.stderr)
        if "backend portable" in r.stderr:
            compare_outputs(out_auto, small_exp, "auto (portable, batch 3)")
        else:
            r = run(auto)
            check(r.returncode == 0, "extract --backend auto failed: %s" % r.stderr)
            compare_outputs(out_auto, exp, "auto (%s)" % r.stderr.strip().split("backend ")[-1].split(",")[0])

        # --- 4. resume: nothing redone; one deleted file redone alone
        before = snapshot(out)
        r = run(base)
        check(r.returncode == 0 and "skipping" in r.stderr, "rerun: %d %s" % (r.returncode, r.stderr))
        check(snapshot(out) == before, "rerun touched finished files")
        victim = os.path.join(out, order[-1][2] + ".featurevector")
        os.remove(victim)
        # What a killed run leaves: a temp file of a process that no longer exists.
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = victim + ".tmp-%d" % dead.pid
        with open(stale, "wb") as f:
            f.write(b"half-written")
        before = snapshot(out)
        r = run(base)
        check(r.returncode == 0 and os.path.isfile(victim), "rerun after delete: %s" % r.stderr)
        check(not os.path.exists(stale) and "removed 1 temporary file" in r.stderr,
              "stale temp file of a killed run not removed: %s" % r.stderr)
        after = snapshot(out)
        check(all(after[p] == m for p, m in before.items()), "rerun after delete touched other files")
        compare_outputs(out, exp, "resumed")
        small_out = os.path.join(out, small_name + ".featurevector")
        before = snapshot(out)
        r = run(base[:6] + [small] + base[7:] + ["--overwrite"])
        after = snapshot(out)
        check(r.returncode == 0 and after[small_out] != before[small_out], "--overwrite did not rewrite")
        check(all(after[p] == m for p, m in before.items() if p != small_out), "--overwrite touched other images")
        check(not tmp_leftovers(out) and not tmp_leftovers(out_auto), "temporary files left: %r"
              % (tmp_leftovers(out) + tmp_leftovers(out_auto)))

        # --- 5. Ctrl-C: many one-point images (links to one fixture), interrupted early
        many = os.path.join(tmp, "many")
        os.makedirs(many)
        with open(os.path.join(tmp, "many.csv"), "w") as f:
            f.write("image,row,column\n")
            for i in range(24):
                os.symlink(os.path.join(FIX, "synth_57x41.png"), os.path.join(many, "m%02d.png" % i))
                f.write("m%02d.png,%d,%d\n" % (i, i % 41, i % 57))
        out_many = os.path.join(tmp, "out_many")
        margs = [POLYP, "extract", "--weights", weights, "--images", many, "--points",
                 os.path.join(tmp, "many.csv"), "--out", out_many, "--threads", "1", "--backend", "portable"]
        p = subprocess.Popen(margs, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and not (
                os.path.isdir(out_many) and any(f.endswith(".featurevector") for f in os.listdir(out_many))):
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=300)
        done = [f for f in os.listdir(out_many) if f.endswith(".featurevector")]
        if p.returncode == 0:
            print("note: the run finished before SIGINT arrived; interrupt not exercised", file=sys.stderr)
        else:
            check("rerun the same command to resume" in err, "interrupt message: %r" % err)
            check(0 < len(done) < 24, "interrupted run wrote %d of 24 files" % len(done))
        check(not tmp_leftovers(out_many), "temporary files after SIGINT: %r" % tmp_leftovers(out_many))
        r = subprocess.run(margs, capture_output=True, text=True)
        check(r.returncode == 0, "resume after SIGINT failed: %s" % r.stderr)
        check(len([f for f in os.listdir(out_many) if f.endswith(".featurevector")]) == 24, "resume incomplete")
        print("interrupt: %d of 24 images done before SIGINT, rest on resume" % len(done))

        # --- 6. bad inputs
        def write(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        bad_out = os.path.join(tmp, "bad_out")
        common = ["--weights", weights, "--images", images, "--out", bad_out, "--threads", "1"]
        one_line_error(["extract", "--images", images, "--points", points, "--out", bad_out], "--weights is required",
                       "missing --weights")
        one_line_error(["extract"] + common + ["--points", points, "--backend", "cuda9"], "--backend must be",
                       "bad backend")
        one_line_error(["extract"] + common + ["--points", points, "--threads", "0"], "--threads must be",
                       "zero threads")
        one_line_error(["extract"] + common + ["--points", points, "--frobnicate"], "unknown option",
                       "unknown option")
        one_line_error(["extract"] + common + ["--points", os.path.join(tmp, "nope.csv")], "nope.csv",
                       "missing CSV")
        one_line_error(["extract"] + common + ["--points", write("norow.csv", "Name,Column\nsynth_57x41.png,1\n")],
                       'missing required column "Row"', "CSV without Row")
        one_line_error(["extract"] + common + ["--points", write("neg.csv", "Name,Row,Column\nsynth_57x41.png,-1,2\n")],
                       'line 2, column "Row"', "negative row")
        one_line_error(["extract"] + common + ["--points", write("out.csv", "Name,Row,Column\nsynth_57x41.png,41,3\n")],
                       "synth_57x41.png: point 1 (row 41, column 3) is outside the 57x41 image", "point outside")
        one_line_error(["extract"] + common + ["--points", write("dots.csv", "Name,Row,Column\n../x.png,1,1\n")],
                       "must be a relative path", "name with ..")
        one_line_error(["extract", "--weights", write("w.bad", "not safetensors")] + common[2:]
                       + ["--points", write("ok.csv", "Name,Row,Column\nsynth_57x41.png,1,1\n")],
                       "w.bad", "bad weights")
        r = run(["extract"] + common + ["--points", write("missing.csv",
                "Name,Row,Column\nsynth_57x41.png,1,1\nghost1.png,1,1\nsynth_57x41.png,2,2\nghost2.png,3,3\n")])
        check(r.returncode != 0 and "ghost1.png" in r.stderr and "ghost2.png" in r.stderr
              and "2 of 3 images" in r.stderr, "missing images: %r" % r.stderr)
        check(not os.path.exists(os.path.join(bad_out, "synth_57x41.png.featurevector")),
              "work started although images were missing")
        r = run(["extract", "--help"])
        check(r.returncode == 0 and "usage: polyp extract" in r.stdout, "--help")

    return finish("extract CLI")


if __name__ == "__main__":
    sys.exit(main())
