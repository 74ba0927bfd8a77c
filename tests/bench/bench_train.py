#!/usr/bin/python3
"""Training benchmark: polyp vs scikit-learn's MLPClassifier with CoralNet's settings, same
features, same run.

For each size (points), writes synthetic 1280-d features of 20 imbalanced classes
(tests/fixtures/synth_features.py) as pyspacer .featurevector files plus a CoralNet
annotation CSV, then trains
  - polyp:  `polyp train --features DIR --annotations CSV --out MODEL` (streaming from disk),
  - scikit-learn: pyspacer's pipeline (same split, MLPClassifier (100,) lr 1e-3 below 50,000
    training points else (200, 100) lr 1e-4, 10 epochs of partial_fit over 5,000-point chunks
    of epoch-shuffled images read from the same files, CalibratedClassifierCV(cv='prefit') on
    the reference set),
each in its own process, and reports wall time (whole process: reading the files included),
CPU time (user + system), validation accuracy, peak RSS (wait4) and the wall-time ratio
sklearn / polyp. polyp keeps up to --cache-mb (512 MiB) of features in memory between
epochs and streams the rest; the sklearn side streams as pyspacer does.

    /usr/bin/python3 tests/bench/bench_train.py --polyp build/polyp [--sizes 5000,50000,200000]
Not a timed test: run it on an otherwise idle machine.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import synth_features  # noqa: E402

PROBLEM = dict(n_classes=20, dim=1280, sep=0.12, noise=1.0)


def write_source(root, n_points, seed=7):
    """Feature files + CSV for about n_points points; returns (dir, csv, n_points)."""
    fdir = os.path.join(root, "features")
    csv = os.path.join(root, "annotations.csv")
    if os.path.exists(csv):
        return fdir, csv
    os.makedirs(fdir, exist_ok=True)
    n_images = max(8, int(round(n_points / 30.0)))  # 20..40 points per image, 30 on average
    images = synth_features.make(seed=seed, n_images=n_images, **PROBLEM)
    with open(csv + ".tmp", "w") as f:
        f.write("Name,Row,Column,Label code\n")
        for i, (x, labels) in enumerate(images):
            name = "img%06d.jpg" % i
            n = len(labels)
            rows = (np.arange(n) * 7 + 3).astype(np.uint16)
            cols = (np.arange(n) * 11 + 5).astype(np.uint16)
            with open(os.path.join(fdir, name + ".featurevector"), "wb") as g:
                np.savez(g, meta=np.array([1, n, x.shape[1]]), rows=rows, cols=cols, feat=x.astype(np.float64))
            for k in range(n):
                f.write("%s,%d,%d,%s\n" % (name, rows[k], cols[k], labels[k]))
    os.replace(csv + ".tmp", csv)
    return fdir, csv


def run_measured(cmd):
    """Wall time, peak RSS (MiB), CPU time and output of cmd. The command runs under GNU time:
    Linux keeps a process's peak RSS across fork + exec, so a child forked straight from this
    (large) Python process would report this process's memory as its own."""
    rss_file = tempfile.NamedTemporaryFile(prefix="polyp-rss-", delete=False)
    rss_file.close()
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, errtext = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit("failed: %s\n%s%s" % (" ".join(cmd), out, errtext))
    with open(rss_file.name) as f:
        rss_kib = float(f.read().split()[-1])
    os.unlink(rss_file.name)
    return wall, rss_kib / 1024.0, ru.ru_utime + ru.ru_stime, out, errtext


def sklearn_child(fdir, csv):
    """pyspacer's train + evaluate, features read from the files per chunk as pyspacer does."""
    warnings.simplefilter("ignore")
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.neural_network import MLPClassifier

    order, pts = [], {}
    with open(csv) as f:
        next(f)
        for line in f:
            name, r, c, lab = line.rstrip("\n").split(",")
            if name not in pts:
                order.append(name)
                pts[name] = []
            pts[name].append(lab)
    roles, ref_n, j = [], 0, 0
    for i, name in enumerate(order):
        if i % 8 == 0:
            roles.append("val")
            continue
        ro = "train"
        if j % 10 == 0 and ref_n + len(pts[name]) <= 5000:
            ro, ref_n = "ref", ref_n + len(pts[name])
        roles.append(ro)
        j += 1
    tr = {l for n, ro in zip(order, roles) if ro == "train" for l in pts[n]}
    rf = {l for n, ro in zip(order, roles) if ro == "ref" for l in pts[n]}
    classes = sorted(tr & rf)
    cs = set(classes)

    def load(name):
        x = np.load(os.path.join(fdir, name + ".featurevector"))["feat"]
        keep = [k for k, l in enumerate(pts[name]) if l in cs]
        return x[keep], [pts[name][k] for k in keep]

    def gather(role):
        xs, ys = [], []
        for n, ro in zip(order, roles):
            if ro == role:
                x, y = load(n)
                xs.append(x)
                ys += y
        return np.concatenate(xs), np.array(ys)

    t0 = time.perf_counter()
    refx, refy = gather("ref")
    train = [n for n, ro in zip(order, roles) if ro == "train"]
    n_train = sum(1 for n in train for l in pts[n] if l in cs)
    hls, lr = ((200, 100), 1e-4) if n_train >= 50000 else ((100,), 1e-3)
    clf = MLPClassifier(hidden_layer_sizes=hls, learning_rate_init=lr, random_state=0)
    for epoch in range(10):
        ep = list(train)
        random.Random(epoch).shuffle(ep)
        bx, by, nb = [], [], 0
        for n in ep:
            x, y = load(n)
            bx.append(x)
            by += y
            nb += len(y)
            while nb >= 5000:
                X = np.concatenate(bx)
                clf.partial_fit(X[:5000], np.array(by[:5000]), classes=classes)
                bx, by, nb = [X[5000:]], by[5000:], nb - 5000
        if nb:
            clf.partial_fit(np.concatenate(bx), np.array(by), classes=classes)
        acc = (clf.predict(refx) == refy).mean()
        print("epoch %d reference accuracy %.4f" % (epoch + 1, acc), file=sys.stderr)
    cal = CalibratedClassifierCV(clf, cv="prefit").fit(refx, refy)
    train_s = time.perf_counter() - t0
    valx, valy = gather("val")
    print("validation accuracy %.4f train_s %.3f" % ((cal.predict(valx) == valy).mean(), train_s))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--polyp", default=os.path.join(HERE, "..", "..", "build", "polyp"))
    ap.add_argument("--sizes", default="5000,50000,200000")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "polyp-bench-train"))
    ap.add_argument("--threads", default="0", help="polyp --threads (0 = all CPUs)")
    ap.add_argument("--sklearn-child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sklearn_child:
        sklearn_child(*a.sklearn_child)
        return
    print("%-7s %8s %9s %8s %8s %9s %8s %9s %8s %7s" % ("points", "polyp_s", "sklearn_s", "p_cpu_s", "s_cpu_s",
                                                          "polyp_acc", "skl_acc", "polyp_MiB", "skl_MiB", "ratio"))
    for size in [int(s) for s in a.sizes.split(",")]:
        root = os.path.join(a.workdir, str(size))
        fdir, csv = write_source(root, size)
        model = os.path.join(root, "model.safetensors")
        pw, prss, pcpu, pout, perr = run_measured([a.polyp, "train", "--features", fdir, "--annotations", csv, "--out",
                                             model, "--threads", a.threads])
        pacc = float(pout.split("validation accuracy ")[1].split()[0])
        sw, srss, scpu, sout, serr = run_measured([sys.executable, os.path.abspath(__file__), "--sklearn-child", fdir, csv])
        sacc = float(sout.split("validation accuracy ")[1].split()[0])
        print("%-7d %8.2f %9.2f %8.2f %8.2f %9.4f %8.4f %9.1f %8.1f %6.1fx" % (
            size, pw, sw, pcpu, scpu, pacc, sacc, prss, srss, sw / pw), flush=True)


if __name__ == "__main__":
    main()
