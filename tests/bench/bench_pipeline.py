#!/usr/bin/python3
"""Does `polyp extract` keep both cores busy? (issue 11's "Done when"; a benchmark, not a test)

usage: tests/bench/bench_pipeline.py [--reps 5] [--build build-bench]

On the benchmark's e2e set (tests/bench/bench.py's four full-size photos from
../shared/testdata, 50 random points each from `polyp points --seed 1`, the seeded test
network, portable backend), it measures, REPS times each, interleaved so drift in the
machine's load hits every configuration alike:
  - `polyp extract` end to end at --threads 1 (serial: decode and network take turns),
    at --threads 2 (default: the pipeline, --queue 2) and at --threads 2 --queue 0 (the serial
    path on two threads, what the issue measured before the pipeline);
  - pipeline_halves: decode (file read + decoder, into fresh memory as a single decode gets
    it) and network, each alone on one thread, plus the crop, so that
    bound = (decode + network) / 2  is what two cores allow; and again with every decode
    into one buffer reused from photo to photo (--reuse 1: no page faults once warm), the
    tightest bound, which polyp extract, whose first photos get fresh memory, cannot reach
    on four photos. It runs
    in the same loop (one warm-up and one timed repetition after each round of extracts):
    measured at the end instead, a change of load between the two windows moved the
    fraction by 20 points.
It prints the medians, 2-thread / 1-thread and bound / measured (the fraction of what the
cores allow). (`polyp train`, `classify`, `status` and `cover` over a 5,000-photo run are
tests/bench/bench_working_set.py's.)
The machine's load average is printed before and after: on a shared machine the figures are
noise unless it is near zero.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHOTOS = [  # bench.py's e2e set
    "mermaid-sample/mermaid_3805.JPG",
    "unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG",
    "unlabeled-real-images/seattle_rov_2025_01_22_09-53-41.JPG",
    "unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png",
]


def sh(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("bench_pipeline: %s failed:\n%s" % (" ".join(args), r.stderr))
    return r


def timed(args, cpu=None):
    """Wall seconds of one run; its CPU seconds (user + system, wait4) appended to cpu."""
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench_pipeline: %s failed:\n%s" % (" ".join(args), err))
    if cpu is not None:
        cpu.append(ru.ru_utime + ru.ru_stime)
    return wall


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--testdata", default=os.path.join(ROOT, "..", "shared", "testdata"))
    a = ap.parse_args()
    for p in PHOTOS:
        if not os.path.isfile(os.path.join(a.testdata, p)):
            sys.exit("bench_pipeline: %s is missing" % os.path.join(a.testdata, p))
    sh(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=Release", "-DPOLYP_BUILD_BENCH=ON",
        "-DPOLYP_BUILD_TESTS=OFF"])
    sh(["cmake", "--build", a.build, "-j2", "--target", "polyp_cli", "pipeline_halves"])
    polyp = os.path.join(a.build, "polyp")
    halves = os.path.join(a.build, "tests", "bench", "pipeline_halves")
    work = tempfile.mkdtemp(prefix="polyp-bench-pipeline-")
    try:
        images = os.path.join(work, "images")
        os.makedirs(images)
        for p in PHOTOS:
            os.symlink(os.path.join(a.testdata, p), os.path.join(images, os.path.basename(p)))
        weights = os.path.join(work, "w.safetensors")
        sh([polyp, "testnet", "--out", weights])
        points = os.path.join(work, "points.csv")
        sh([polyp, "points", "--images", images, "--method", "random:50", "--seed", "1", "--out", points])
        npatch = 50 * len(PHOTOS)
        print("load average before: %s" % loadavg())
        configs = {"t1": ["--threads", "1"], "t2": ["--threads", "2"], "t2_serial": ["--threads", "2", "--queue", "0"]}
        walls = {k: [] for k in configs}
        cpus = {k: [] for k in configs}
        hs, hr = [], []
        for rep in range(a.reps):
            for k, extra in configs.items():
                out = os.path.join(work, "out_" + k)
                shutil.rmtree(out, ignore_errors=True)  # a rerun would skip finished images
                walls[k].append(timed([polyp, "extract", "--weights", weights, "--images", images, "--points",
                                       points, "--out", out, "--backend", "portable"] + extra, cpus[k]))
            for reuse, into in (("0", hs), ("1", hr)):
                into.append(json.loads(sh([halves, "--weights", weights, "--images", images, "--points", points,
                                           "--reps", "1", "--warmup", "1", "--reuse", reuse]).stdout))
        for k in configs:
            if k != "t1":
                sh(["diff", "-r", os.path.join(work, "out_t1"), os.path.join(work, "out_" + k)])
        h = {key: statistics.median(x[key] for x in hs)
             for key in ("decode_s", "crop_s", "network_s", "decode_cpu_s", "network_cpu_s")}
        hr_decode = statistics.median(x["decode_s"] for x in hr)
        hr_network = statistics.median(x["network_s"] for x in hr)
        print("load average after:  %s" % loadavg())
        med = {k: statistics.median(v) for k, v in walls.items()}
        for k in configs:
            print("extract %-9s median %.3f s = %.1f patches/s, CPU %.2f s   (runs: %s)" % (
                k, med[k], npatch / med[k], statistics.median(cpus[k]), ", ".join("%.2f" % x for x in walls[k])))
        print("one thread alone (median of %d): decode %.3f s, crop %.3f s, network %.3f s; CPU: decode %.3f s, "
              "network %.3f s" % (a.reps, h["decode_s"], h["crop_s"], h["network_s"], h["decode_cpu_s"],
                                  h["network_cpu_s"]))
        bound = (h["decode_s"] + h["network_s"]) / 2
        bound_crop = (h["decode_s"] + h["crop_s"] + h["network_s"]) / 2
        print("2 threads / 1 thread: %.2fx (target >= 1.7x); serial path on 2 threads: %.2fx" % (
            med["t1"] / med["t2"], med["t1"] / med["t2_serial"]))
        print("what 2 cores allow: (decode + network) / 2 = %.3f s = %.1f patches/s; measured %.1f patches/s "
              "= %.0f%% of it (target >= 90%%); counting the crop too: %.0f%%" % (
                  bound, npatch / bound, npatch / med["t2"], 100 * bound / med["t2"], 100 * bound_crop / med["t2"]))
        tight = (hr_decode + hr_network) / 2
        print("with every decode into one reused buffer (decode %.3f s, network %.3f s; polyp extract reuses the "
              "buffers of finished photos, but its first photos get fresh memory): bound %.3f s, measured %.0f%% "
              "of it" % (hr_decode, hr_network, tight, 100 * tight / med["t2"]))
        cpu_bound = (h["decode_cpu_s"] + h["network_cpu_s"]) / 2
        print("from CPU seconds (meaningful under load): (decode + network) / 2 = %.3f s; CPU of the whole "
              "extract: 1 thread %.2f s, 2 threads %.2f s (%+.0f%%)" % (
                  cpu_bound, statistics.median(cpus["t1"]), statistics.median(cpus["t2"]),
                  100 * (statistics.median(cpus["t2"]) / statistics.median(cpus["t1"]) - 1)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
