#!/usr/bin/python3
"""The whole CoralNet working set (issue 11): `polyp train`, `classify`, `status` and `cover`
over the outputs of a 5,000-photo run, against scikit-learn training the same features in the
same run. A benchmark, not a test: CI never runs it.

usage: tests/bench/bench_working_set.py [--photos 5000] [--points 50] [--reps 3]
                                        [--polyp build/polyp | --build build-bench]
                                        [--peer-reps 1] [--no-peer] [--threads 0]

1. Real features, once: `polyp extract` (the seeded test network, `polyp testnet`) of the
   benchmark's four full-size photos (bench_pipeline.PHOTOS, read in place from
   ../shared/testdata) at `polyp points --method random:POINTS --seed 1`.
2. A PHOTOS-photo run laid out from them: photo k is photo k % 4's feature file, hard-linked
   under the name p<k>_<photo>; an annotation CSV (Name, Row, Column, Label code) in photo
   order with CoralNet labels: the label codes of the Patagonia CoralNet export in
   ../shared/testdata, drawn with their frequencies (imbalanced as a real source is), one
   label per (photo, point) shared by every copy, and 10% of the points relabelled at random
   so the task is neither trivial nor noise.
3. Timed, REPS times each (wall, CPU = user + system, peak RSS; medians): `polyp train`,
   `polyp classify` of every point with that model, `polyp status` (every output parsed and
   checked against the CSV) and `polyp cover` of the scores. Peer, PEER_REPS times: pyspacer's
   training pipeline on scikit-learn (bench_train.py's sklearn_child: the same split, MLP
   settings, 5,000-point chunks, calibration; features read from the same files), its
   validation accuracy beside polyp's. classify, status and cover have no peer here.

The machine's load average is printed before and after: on a shared machine the wall times
measure the share of the machine the runs got; the CPU times hold better.
"""
import argparse
import collections
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench_pipeline  # noqa: E402  (PHOTOS, sh, loadavg)
import bench_train  # noqa: E402  (run_measured, the scikit-learn peer)

LABELS_CSV = "coralnet-export-sample-patagonia/annotations_forAI.csv"


def coralnet_labels(testdata):
    """(codes, weights): the Label column of a real CoralNet export and each code's count."""
    import csv
    with open(os.path.join(testdata, LABELS_CSV), newline="") as f:
        counts = collections.Counter(r["Label"] for r in csv.DictReader(f) if r.get("Label"))
    codes = sorted(counts)
    if not codes or any("," in c or '"' in c for c in codes):
        sys.exit("bench_working_set: unexpected labels in %s" % LABELS_CSV)
    return codes, [counts[c] for c in codes]


def lay_out(work, feats, points_csv, n_photos, codes, weights):
    """The n_photos-photo run: (features dir, annotations CSV, points CSV, point count)."""
    rng = random.Random(11)
    src_points = collections.OrderedDict()
    with open(points_csv) as f:
        next(f)
        for line in f:
            name, row, col = line.strip().split(",")[:3]
            src_points.setdefault(name, []).append((row, col))
    sources = list(src_points)
    truth = {(s, i): rng.choices(codes, weights)[0] for s in sources for i in range(len(src_points[s]))}
    big = os.path.join(work, "features_%d" % n_photos)
    os.makedirs(big)
    ann, pts = os.path.join(work, "annotations.csv"), os.path.join(work, "points_%d.csv" % n_photos)
    n_points = 0
    with open(ann, "w") as fa, open(pts, "w") as fp:
        fa.write("Name,Row,Column,Label code\n")
        fp.write("Name,Row,Column\n")
        for k in range(n_photos):
            src = sources[k % len(sources)]
            name = "p%05d_%s" % (k, src)
            os.link(os.path.join(feats, src + ".featurevector"), os.path.join(big, name + ".featurevector"))
            for i, (row, col) in enumerate(src_points[src]):
                label = truth[(src, i)] if rng.random() >= 0.1 else rng.choices(codes, weights)[0]
                fa.write("%s,%s,%s,%s\n" % (name, row, col, label))
                fp.write("%s,%s,%s\n" % (name, row, col))
                n_points += 1
    return big, ann, pts, n_points


def measure(cmd, reps):
    """Medians over reps runs of bench_train.run_measured: wall, CPU, peak RSS; and the walls and
    the last run's stdout + stderr."""
    walls, cpus, rsss, text = [], [], [], ""
    for _ in range(reps):
        wall, rss, cpu, out, err = bench_train.run_measured(cmd)
        walls.append(wall)
        cpus.append(cpu)
        rsss.append(rss)
        text = out + err
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "rss": statistics.median(rsss),
            "walls": walls, "text": text}


def accuracy(text):
    return float(text.split("validation accuracy ")[1].split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--points", type=int, default=50, help="random points per photo (polyp points --seed 1)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peer-reps", type=int, default=1)
    ap.add_argument("--no-peer", action="store_true", help="skip scikit-learn (minutes at 250,000 points)")
    ap.add_argument("--threads", default="0", help="polyp train/classify --threads (0 = all CPUs)")
    ap.add_argument("--polyp", help="an already built polyp (default: build --build first)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--testdata", default=os.path.join(ROOT, "..", "shared", "testdata"))
    a = ap.parse_args()
    for p in bench_pipeline.PHOTOS + [LABELS_CSV]:
        if not os.path.isfile(os.path.join(a.testdata, p)):
            sys.exit("bench_working_set: %s is missing" % os.path.join(a.testdata, p))
    polyp = a.polyp
    if not polyp:
        bench_pipeline.sh(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=Release", "-DPOLYP_BUILD_TESTS=OFF"])
        bench_pipeline.sh(["cmake", "--build", a.build, "-j2", "--target", "polyp_cli"])
        polyp = os.path.join(a.build, "polyp")
    codes, weights = coralnet_labels(a.testdata)
    work = tempfile.mkdtemp(prefix="polyp-bench-working-set-")
    try:
        images = os.path.join(work, "images")
        os.makedirs(images)
        for p in bench_pipeline.PHOTOS:
            os.symlink(os.path.join(a.testdata, p), os.path.join(images, os.path.basename(p)))
        weights_file = os.path.join(work, "w.safetensors")
        bench_pipeline.sh([polyp, "testnet", "--out", weights_file])
        points = os.path.join(work, "points.csv")
        bench_pipeline.sh([polyp, "points", "--images", images, "--method", "random:%d" % a.points, "--seed", "1",
                           "--out", points])
        feats = os.path.join(work, "features")
        bench_pipeline.sh([polyp, "extract", "--weights", weights_file, "--images", images, "--points", points,
                           "--out", feats])
        big, ann, pts, n_points = lay_out(work, feats, points, a.photos, codes, weights)
        print("working set: %d photos, %d points, %d CoralNet label codes (%s), features of %d real photos"
              % (a.photos, n_points, len(codes), LABELS_CSV, len(bench_pipeline.PHOTOS)))
        print("load average before: %s" % bench_pipeline.loadavg(), flush=True)

        model, scores = os.path.join(work, "model.polyp"), os.path.join(work, "scores.csv")
        rows = []
        train = measure([polyp, "train", "--features", big, "--annotations", ann, "--out", model,
                         "--threads", a.threads], a.reps)
        rows.append(("polyp train", a.reps, train, "val acc %.4f" % accuracy(train["text"])))
        cls = measure([polyp, "classify", "--model", model, "--features", big, "--points", pts, "--out", scores,
                       "--threads", a.threads], a.reps)
        rows.append(("polyp classify", a.reps, cls, "%d points scored" % n_points))
        st = measure([polyp, "status", "--points", pts, "--out", big], a.reps)
        rows.append(("polyp status", a.reps, st, "%d outputs parsed" % a.photos))
        cov = measure([polyp, "cover", "--annotations", scores, "--out", os.path.join(work, "cover.csv")], a.reps)
        rows.append(("polyp cover", a.reps, cov, "of the scores"))
        if not a.no_peer:
            peer = measure([sys.executable, bench_train.__file__, "--sklearn-child", big, ann], a.peer_reps)
            rows.append(("scikit-learn train (pyspacer)", a.peer_reps, peer, "val acc %.4f; %.1fx polyp's wall" % (
                accuracy(peer["text"]), peer["wall"] / train["wall"])))
        print("load average after:  %s" % bench_pipeline.loadavg())
        print("\n| command | runs | wall s (median; runs) | CPU s | peak RSS MiB | |")
        print("|---|---|---|---|---|---|")
        for name, reps, m, note in rows:
            print("| %s | %d | %.2f (%s) | %.2f | %.0f | %s |" % (
                name, reps, m["wall"], ", ".join("%.2f" % w for w in m["walls"]), m["cpu"], m["rss"], note))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
