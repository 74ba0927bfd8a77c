#!/usr/bin/python3
"""End-to-end test of `polyp status` and extractor records (issue 11: merged shard outputs).

usage: test_status_records.py PATH/TO/polyp

Inputs: test_bulk_cli.py's (the four synthetic fixture images linked under 12 names, one
seeded point each), weights A = the seeded test network, weights B = A with one byte of its
last tensor flipped (another sha256, so another extractor record). The expected records are
worked out here: "efficientnet_b0:<sha256 of the weights file, hashlib>:1280 variant=lukemelas",
and read back from the files with numpy.
1. A folder made with A: `--weights A` reports every image done (exit 0); `--weights B`
   reports every image foreign with A's record in its reason, the shards to rerun and to
   rerun with --overwrite (exit 1), in text and --json; without --weights it is done as today.
2. A mixed folder (A's files, shard 1/3's replaced by B's): though every file is complete,
   without --weights it exits 1 and lists both records with their counts (text and --json,
   each image's record index). With one file of shard 2/3 deleted as well and `--weights A`,
   exactly shard 1's images are foreign,
   shards_to_rerun is [1, 2] and shards_to_overwrite [1]. Following that advice works: a plain
   `extract --shard 1/3` is refused, `--overwrite` fixes it, a plain rerun of shard 2 fills
   the gap, and status then exits 0 with and without --weights.
3. A file without a record (pyspacer's, written with numpy) beside A's: one record and
   unrecorded files is not mixed (exit 0, "unrecorded": 1), but with --weights A that file is
   foreign (extract would refuse it too).
4. Unreadable --weights exits 2 with one line; --help documents --weights.
Needs numpy (Debian's /usr/bin/python3); exits 77 (ctest: skipped) without it.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, finish, init, make_testnet, run  # noqa: E402
from test_bulk_cli import make_inputs, other_weights, shard_of  # noqa: E402

COUNT = 12


def record_of(weights):
    """polyp's record for the test network, from the file's bytes (its sha256 is the file's)."""
    with open(weights, "rb") as f:
        return "efficientnet_b0:%s:1280 variant=lukemelas" % hashlib.sha256(f.read()).hexdigest()


def file_record(path):
    import numpy as np
    with np.load(path) as z:
        return str(z["extractor"]) if "extractor" in z.files else None


def status(points, out, *extra):
    """(exit status, stdout lines, stderr) of a text status; (exit status, doc) with --json."""
    args = ["status", "--points", points, "--out", out] + list(extra)
    r = run(args)
    if "--json" not in extra:
        return r.returncode, r.stdout.splitlines(), r.stderr
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        doc = {}
        check(False, "status %r: not JSON: %r %r" % (extra, r.stdout[:300], r.stderr))
    return r.returncode, doc


def fv(out, name):
    return os.path.join(out, name + ".featurevector")


def test_one_extractor(points, names, wa, wb, rec_a, folder_a):
    n = len(names)
    rc, lines, err = status(points, folder_a, "--weights", wa)
    check(rc == 0 and lines[-1:] == ["%d images: %d done, 0 missing, 0 corrupt, 0 foreign" % (n, n)],
          "--weights A over A's folder: %d %r %r" % (rc, lines, err))
    rc, lines, err = status(points, folder_a)
    check(rc == 0 and lines == ["%d images: %d done, 0 missing, 0 corrupt" % (n, n)],
          "no --weights over A's folder: %d %r %r" % (rc, lines, err))
    rc, doc = status(points, folder_a, "--weights", wa, "--json")
    check(rc == 0 and doc.get("done") == n and doc.get("foreign") == 0 and doc.get("weights_record") == rec_a
          and doc.get("extractors") == [{"record": rec_a, "files": n}] and doc.get("mixed") is False
          and doc.get("unrecorded") == 0, "json, --weights A over A's folder: %r" % doc)

    rc, lines, err = status(points, folder_a, "--weights", wb, "--shard-count", "3")
    shards = sorted({shard_of(x, 3) for x in names})
    want = sorted("foreign  %s  (shard %d/3): made by extractor '%s'" % (x, shard_of(x, 3), rec_a) for x in names)
    check(rc == 1 and sorted(l for l in lines if l.startswith("foreign")) == want,
          "--weights B over A's folder: %d %r %r" % (rc, lines, err))
    check(lines[-1:] == ["%d images: 0 done, 0 missing, 0 corrupt, %d foreign; %d of 3 shards to rerun: %s"
                         % (n, n, len(shards), ",".join(map(str, shards)))], "summary: %r" % lines[-1:])
    advice = [l for l in lines if l.startswith("extractors:")]
    check(len(advice) == 1 and record_of(wb) in advice[0] and "--overwrite" in advice[0]
          and "shards %s with --overwrite" % ",".join(map(str, shards)) in advice[0], "advice: %r" % advice)
    rc, doc = status(points, folder_a, "--weights", wb, "--shard-count", "3", "--json")
    per = {e.get("name"): e for e in doc.get("per_image", [])}
    check(rc == 1 and doc.get("done") == 0 and doc.get("foreign") == n and doc.get("mixed") is False
          and doc.get("shards_to_rerun") == shards and doc.get("shards_to_overwrite") == shards
          and doc.get("extractors") == [{"record": rec_a, "files": n}] and sorted(per) == sorted(names),
          "json, --weights B over A's folder: %r" % {k: v for k, v in doc.items() if k != "per_image"})
    for x in names:
        e = per.get(x, {})
        check(e.get("state") == "foreign" and rec_a in e.get("reason", "") and e.get("extractor") == 0,
              "json entry of %s: %r" % (x, e))
    print("one extractor: done with its own weights, every file foreign with the other's")


def test_mixed(tmp, base, points, names, wa, wb, rec_a, rec_b, folder_a, folder_b):
    n = len(names)
    mixed = os.path.join(tmp, "mixed")
    shutil.copytree(folder_a, mixed)
    from_b = [x for x in names if shard_of(x, 3) == 1]
    gone = next(x for x in names if shard_of(x, 3) == 2)
    check(from_b and 0 < len(from_b) < n - 1, "shard 1/3 holds %d of the %d images" % (len(from_b), n))
    for x in from_b:
        shutil.copyfile(fv(folder_b, x), fv(mixed, x))
    check(all(file_record(fv(mixed, x)) == (rec_b if x in from_b else rec_a) for x in names),
          "numpy reads other records than expected in the mixed folder")
    n_a = n - len(from_b)
    first_a = next(x for x in names if x not in from_b)

    # Without --weights: every file is complete and matches the CSV, yet the folder is not
    # done: exit 1, the records with their counts.
    rc, lines, err = status(points, mixed)
    check(rc == 1, "complete mixed folder, no --weights: exit %d %r %r" % (rc, lines, err))
    check(lines[-1:] == ["%d images: %d done, 0 missing, 0 corrupt; mixed: 2 extractor records" % (n, n)],
          "mixed summary: %r" % lines[-1:])
    check("  %d file%s (the first %s): %s" % (n_a, "s" if n_a > 1 else "", first_a, rec_a) in lines
          and "  %d file%s (the first %s): %s" % (len(from_b), "s" if len(from_b) > 1 else "", from_b[0], rec_b)
          in lines, "mixed folder lists: %r" % lines)
    check(not any(l.startswith("foreign") for l in lines), "foreign without --weights: %r" % lines)
    rc, doc = status(points, mixed, "--json")
    check(rc == 1 and doc.get("mixed") is True and doc.get("done") == n and doc.get("foreign") == 0
          and doc.get("extractors") == [{"record": rec_a, "files": n_a}, {"record": rec_b, "files": len(from_b)}],
          "mixed json: %d %r" % (rc, {k: v for k, v in doc.items() if k != "per_image"}))
    exts = [e["record"] for e in doc.get("extractors", []) if "record" in e]
    for e in doc.get("per_image", []):
        x = e.get("name")
        got = exts[e["extractor"]] if isinstance(e.get("extractor"), int) and e["extractor"] < len(exts) else None
        check(got == (rec_b if x in from_b else rec_a), "mixed json entry of %s: %r" % (x, e))

    # A gap as well: the mixed clause comes before the shard list, which stays last.
    os.remove(fv(mixed, gone))
    rc, lines, err = status(points, mixed, "--shard-count", "3")
    check(rc == 1 and lines[-1:] == ["%d images: %d done, 1 missing, 0 corrupt; mixed: 2 extractor records; "
                                     "1 of 3 shards to rerun: 2" % (n, n - 1)],
          "mixed folder with a gap: %d %r" % (rc, lines[-1:]))

    # With the run's weights: exactly shard 1's files are foreign; only shard 1 needs --overwrite.
    rc, doc = status(points, mixed, "--weights", wa, "--shard-count", "3", "--json")
    foreign = sorted(e.get("name") for e in doc.get("per_image", []) if e.get("state") == "foreign")
    check(rc == 1 and foreign == sorted(from_b) and doc.get("foreign") == len(from_b) and doc.get("missing") == 1
          and doc.get("shards_to_rerun") == [1, 2] and doc.get("shards_to_overwrite") == [1],
          "--weights A over the mixed folder: %d %r" % (rc, {k: v for k, v in doc.items() if k != "per_image"}))
    rc, lines, _ = status(points, mixed, "--weights", wa, "--shard-count", "3")
    check(rc == 1 and any("shard 1 with --overwrite" in l for l in lines), "advice: %r" % lines)

    # The advice holds: a plain rerun of shard 1 is refused, --overwrite fixes it.
    r = run(base + ["--out", mixed, "--shard", "1/3"])
    check(r.returncode != 0 and "another extractor" in r.stderr, "plain rerun of shard 1: %s" % r.stderr)
    for extra in (["--shard", "1/3", "--overwrite"], ["--shard", "2/3"]):
        r = run(base + ["--out", mixed] + extra)
        check(r.returncode == 0, "extract %r: %s" % (extra, r.stderr))
    for extra in ((), ("--weights", wa)):
        rc, lines, err = status(points, mixed, *extra)
        check(rc == 0, "after the reruns, status %r: %d %r %r" % (extra, rc, lines, err))
    print("mixed: both records counted, shard 1 foreign for A, clean after --overwrite of it")


def test_unrecorded(tmp, points, names, wa, rec_a, folder_a):
    import numpy as np
    out = os.path.join(tmp, "unrecorded")
    shutil.copytree(folder_a, out)
    x = names[3]
    with np.load(fv(out, x)) as z:
        arrays = {k: z[k] for k in ("meta", "rows", "cols", "feat")}
    with open(fv(out, x), "wb") as f:
        np.savez(f, **arrays)  # what pyspacer writes: no extractor record
    check(file_record(fv(out, x)) is None, "numpy still finds a record")
    rc, doc = status(points, out, "--json")
    check(rc == 0 and doc.get("mixed") is False and doc.get("unrecorded") == 1
          and doc.get("extractors") == [{"record": rec_a, "files": len(names) - 1}],
          "one record and an unrecorded file: %d %r" % (rc, {k: v for k, v in doc.items() if k != "per_image"}))
    rc, doc = status(points, out, "--json", "--weights", wa)
    foreign = [e for e in doc.get("per_image", []) if e.get("state") == "foreign"]
    check(rc == 1 and len(foreign) == 1 and foreign[0].get("name") == x and "none recorded" in foreign[0].get("reason", "")
          and "extractor" not in foreign[0], "unrecorded file with --weights A: %d %r" % (rc, foreign))
    print("unrecorded: not a mix without --weights, foreign with them")


def test_errors(points, wa, folder_a, tmp):
    r = run(["status", "--points", points, "--out", folder_a, "--weights", os.path.join(tmp, "no.safetensors")])
    check(r.returncode == 2 and "no.safetensors" in r.stderr and len(r.stderr.strip().splitlines()) == 1
          and not r.stdout, "unreadable --weights: %d %r %r" % (r.returncode, r.stdout, r.stderr))
    r = run(["status", "--points", points, "--out", folder_a, "--weights"])
    check(r.returncode == 2 and "--weights needs a value" in r.stderr, "--weights without a value: %r" % r.stderr)
    r = run(["status", "--help"])
    check(r.returncode == 0 and "--weights W" in r.stdout and "foreign" in r.stdout and "mixed" in r.stdout,
          "status --help: %r" % r.stdout)


def main():
    polyp = os.path.abspath(sys.argv[1])
    init(polyp)
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("SKIPPED: numpy not available", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        wa = os.path.join(tmp, "a.safetensors")
        if not make_testnet(wa):
            return finish("status-records")
        wb = other_weights(wa, os.path.join(tmp, "b.safetensors"))
        rec_a, rec_b = record_of(wa), record_of(wb)
        images, points, names = make_inputs(tmp, count=COUNT, per_image=1)
        base = ["extract", "--images", images, "--points", points, "--threads", "2", "--backend", "portable",
                "--weights", wa]
        folders = {}
        for w in (wa, wb):
            folders[w] = os.path.join(tmp, "out_" + os.path.basename(w).split(".")[0])
            r = run(base[:-1] + [w, "--out", folders[w]])
            check(r.returncode == 0, "extract with %s: %s" % (w, r.stderr))
        recs = {w: {file_record(fv(folders[w], x)) for x in names} for w in (wa, wb)}
        if check(recs == {wa: {rec_a}, wb: {rec_b}}, "records in the files: %r, expected %r %r" % (recs, rec_a, rec_b)):
            test_one_extractor(points, names, wa, wb, rec_a, folders[wa])
            test_mixed(tmp, base, points, names, wa, wb, rec_a, rec_b, folders[wa], folders[wb])
            test_unrecorded(tmp, points, names, wa, rec_a, folders[wa])
            test_errors(points, wa, folders[wa], tmp)
    return finish("status-records")


if __name__ == "__main__":
    sys.exit(main())
