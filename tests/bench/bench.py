"""Runs polyp's extraction benchmark and its peers in one go and prints ratios (called by
tests/bench/run_bench.sh, which builds what this needs first). Not a test: CI never runs it,
and the numbers mean something only on a quiet machine.

Every engine gets the same weights (the seeded test network, or --weights), the same 32
patches (cropped by polyp from a real photo and handed to everyone through one file), and the
same thread count. Before speeds are shown, every engine's features are compared with
PyTorch's on those patches, so a fast wrong engine cannot pass unnoticed.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import report

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"  # Debian's, with torch 1.13 (the first python3 on PATH may lack it)
ALLOCATORS = {
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}
# The full-size photos of ../shared/testdata used end to end (read in place, never copied).
PHOTOS = [
    "mermaid-sample/mermaid_3805.JPG",
    "unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG",
    "unlabeled-real-images/seattle_rov_2025_01_22_09-53-41.JPG",
    "unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png",
]
PATCH_PHOTO = "mermaid-sample/mermaid_3805.JPG"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_for(threads, allocator=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    env.pop("LD_PRELOAD", None)
    if allocator:
        env["LD_PRELOAD"] = ALLOCATORS[allocator]
    return env


def run_json(cmd, env, cwd=REPO):
    """Runs a measuring process; returns the JSON records it printed on stdout."""
    log(" ".join(cmd) + (f"   (LD_PRELOAD={env['LD_PRELOAD']})" if "LD_PRELOAD" in env else ""))
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: failed ({p.returncode}): {' '.join(cmd)}")
    recs = []
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            recs.append(json.loads(line))
        elif line.strip():
            log("  " + line)
    return recs


def run_timed(cmd, env):
    """Wall seconds and peak RSS (KiB, from wait4) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return wall, ru.ru_maxrss


def make_points(images_dir, names, npoints, path, seed=1):
    """Name,Row,Column CSV with `npoints` seeded uniform points per image (CoralNet's
    "simple random" placement), inside each image's real size."""
    from PIL import Image
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Name", "Row", "Column"])
        for name in names:
            with Image.open(os.path.join(images_dir, name)) as im:
                width, height = im.size
            for _ in range(npoints):
                w.writerow([name, rng.randrange(height), rng.randrange(width)])


def link_photos(testdata, dirpath, count):
    """`count` names in dirpath, symlinks cycling over PHOTOS (the data is never copied)."""
    os.makedirs(dirpath, exist_ok=True)
    names = []
    for i in range(count):
        src = os.path.join(testdata, PHOTOS[i % len(PHOTOS)])
        name = f"img{i:03d}_{os.path.basename(src)}" if count > len(PHOTOS) else os.path.basename(src)
        os.symlink(src, os.path.join(dirpath, name))
        names.append(name)
    return names


def polyp_extract(a, backend, threads, images, points, out):
    cmd = [a.polyp, "extract", "--weights", a.weights_file, "--images", images,
           "--points", points, "--out", out, "--threads", str(threads), "--backend", backend]
    return cmd + (["--batch", str(a.e2e_batch)] if a.e2e_batch else [])


def check_featurevector(path, npoints):
    with np.load(path) as z:
        feat = z["feat"]
    if feat.shape != (npoints, 1280) or not np.isfinite(feat).all():
        raise SystemExit(f"bench: {path}: feat {feat.shape}, expected ({npoints}, 1280), finite")


def bench_network(a, work, threads, results):
    it = ["--lat-iters", str(a.lat_iters), "--thr-iters", str(a.thr_iters),
          "--budget", str(a.budget)]
    common = ["--weights", a.weights_file, "--patches", a.patches_file, "--npatch", str(a.npatch)]
    feats = os.path.join(work, "feat_{}_t{}.f32")
    env = env_for(threads)
    for backend in a.backends:
        for r in run_json([a.bench_extract, *common, "--backend", backend, "--threads", str(threads),
                           *it, "--write-features", feats.format("polyp-" + backend, threads)], env):
            results.append(dict(r, features=feats.format("polyp-" + backend, threads)))
    torch = [PY, os.path.join(HERE, "peer_torch.py"), *common, "--threads", str(threads), *it]
    f = feats.format("torch-coralnet", threads)
    for r in run_json([*torch, "--mode", "coralnet", "--write-features", f], env):
        results.append(dict(r, features=f))
    best = None  # each allocator's process reports its fastest variant; keep the fastest overall
    for alloc in a.allocators:
        variants = a.variants if alloc != "glibc" else "eager"
        f = feats.format("torch-best-" + alloc, threads)
        for r in run_json([*torch, "--mode", "best", "--variants", variants,
                           "--write-features", f], env_for(threads, None if alloc == "glibc" else alloc)):
            if r["engine"] != "torch-best":
                results.append(r)
            elif best is None or r["pps"] > best["pps"]:
                best = dict(r, features=f)
    if best:
        results.append(best)
    if a.onnx_file:
        f = feats.format("onnxruntime", threads)
        for r in run_json(["node", os.path.join(HERE, "peer_ort.mjs"), "--model", a.onnx_file,
                           *common[2:], "--threads", str(threads), *it, "--write-features", f], env):
            results.append(dict(r, features=f))


def bench_e2e(a, work, threads, results):
    images = os.path.join(work, "e2e_images")
    points = os.path.join(work, "e2e_points.csv")
    if not os.path.isdir(images):
        names = link_photos(a.testdata, images, len(PHOTOS))
        make_points(images, names, a.e2e_points, points)
    n_img = len(PHOTOS)
    env = env_for(threads)
    for backend in a.backends:
        walls, rss = [], 0
        while len(walls) < a.e2e_iters and (not walls or sum(walls) < a.budget):
            out = os.path.join(work, f"e2e_out_{backend}_t{threads}")
            shutil.rmtree(out, ignore_errors=True)  # a rerun skips finished images: start empty
            cmd = polyp_extract(a, backend, threads, images, points, out)
            log(" ".join(cmd))
            wall, peak = run_timed(cmd, env)
            walls.append(wall)
            rss = max(rss, peak)
        for name in os.listdir(images):
            check_featurevector(os.path.join(out, name + ".featurevector"), a.e2e_points)
        wall = float(np.median(walls))
        results.append({"engine": f"polyp-{backend}-e2e", "threads": threads, "images": n_img,
                        "patches": n_img * a.e2e_points, "wall_s": wall, "runs": len(walls),
                        "ips": n_img / wall, "pps": n_img * a.e2e_points / wall, "rss_kib": rss,
                        "cmd": " ".join(cmd)})
    if a.torch_e2e:
        results.extend(run_json([PY, os.path.join(HERE, "peer_torch.py"), "--mode", "coralnet-e2e",
                                 "--weights", a.weights_file, "--images", images, "--points", points,
                                 "--threads", str(threads), "--thr-iters", str(a.e2e_iters),
                                 "--budget", str(a.budget)], env))


def bench_rss(a, work, threads, results):
    for count in a.rss_images:
        images = os.path.join(work, f"rss_images_{count}")
        points = os.path.join(work, f"rss_points_{count}.csv")
        names = link_photos(a.testdata, images, count)
        make_points(images, names, a.rss_points, points)
        out = os.path.join(work, f"rss_out_{count}")
        cmd = polyp_extract(a, "xnnpack" if "xnnpack" in a.backends else a.backends[0],
                            threads, images, points, out)
        log(" ".join(cmd))
        wall, peak = run_timed(cmd, env_for(threads))
        if len(os.listdir(out)) < count:
            raise SystemExit(f"bench: {out}: {len(os.listdir(out))} files for {count} images")
        results.append({"engine": "polyp-rss", "threads": threads, "images": count,
                        "points_per_image": a.rss_points, "wall_s": wall, "rss_kib": peak})


def main():
    ap = argparse.ArgumentParser(description="polyp extraction benchmark (see run_bench.sh)")
    ap.add_argument("--build", required=True, help="CMake build dir with bench_extract and polyp")
    ap.add_argument("--testdata", default=os.path.join(REPO, "..", "shared", "testdata"))
    ap.add_argument("--weights", help="weights file (default: the seeded test network)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--backends", default="xnnpack,portable")
    ap.add_argument("--allocators", default="jemalloc,tcmalloc,glibc",
                    help="allocators tried for PyTorch's best setting (glibc: eager only)")
    ap.add_argument("--variants", default="eager,ofi",
                    help="PyTorch channels_last variants tried: eager, freeze (jit.freeze), "
                         "ofi (jit.freeze + optimize_for_inference)")
    ap.add_argument("--npatch", type=int, default=32)
    ap.add_argument("--lat-iters", type=int, default=10)
    ap.add_argument("--thr-iters", type=int, default=5)
    ap.add_argument("--budget", type=float, default=10.0,
                    help="seconds after which a measurement stops repeating (at least 1 run)")
    ap.add_argument("--e2e-points", type=int, default=50)
    ap.add_argument("--e2e-iters", type=int, default=3)
    ap.add_argument("--e2e-batch", type=int, help="polyp extract --batch (default: the CLI's)")
    ap.add_argument("--rss-images", default="10,100")
    ap.add_argument("--rss-points", type=int, default=20)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: net,e2e,rss,ort,torch-e2e")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 4 patches, 1 run each, 3 points per image, 3 vs 6 images")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    ap.add_argument("--json", help="also write every record to this JSON-lines file")
    ap.add_argument("--command", default=" ".join(sys.argv), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        a.npatch, a.lat_iters, a.thr_iters, a.budget = 4, 1, 1, 0.0
        a.e2e_points, a.e2e_iters, a.rss_images, a.rss_points = 3, 1, "3,6", 2
    skip = set(filter(None, a.skip.split(",")))
    a.threads_list = [int(t) for t in a.threads.split(",")]
    a.backends = a.backends.split(",")
    a.allocators = [x for x in a.allocators.split(",") if x]
    a.rss_images = [int(x) for x in a.rss_images.split(",")]
    a.torch_e2e = "torch-e2e" not in skip
    a.bench_extract = os.path.join(a.build, "tests", "bench", "bench_extract")
    a.polyp = os.path.join(a.build, "polyp")
    for alloc in a.allocators:
        if alloc != "glibc" and not os.path.exists(ALLOCATORS.get(alloc, "/nonexistent")):
            raise SystemExit(f"bench: allocator {alloc} missing: apt-get install "
                             "libjemalloc2 libtcmalloc-minimal4")
    if not os.path.isdir(a.testdata):
        raise SystemExit(f"bench: {a.testdata} missing (full-size photos are needed)")

    work = tempfile.mkdtemp(prefix="polyp-bench-")
    results, started = [], time.time()
    try:
        env1 = env_for(1)
        if a.weights:
            a.weights_file = os.path.abspath(a.weights)
        else:
            a.weights_file = os.path.join(work, "testnet.safetensors")
            run_json([a.bench_extract, "--testnet", os.path.join(REPO, "models", "testnet-bnstats.safetensors"),
                      "--write-weights", a.weights_file], env1)
        a.patches_file = os.path.join(work, "patches.f32")
        run_json([a.bench_extract, "--image", os.path.join(a.testdata, PATCH_PHOTO),
                  "--npatch", str(a.npatch), "--write-patches", a.patches_file], env1)
        a.onnx_file = None
        if "ort" not in skip and "net" not in skip:
            a.onnx_file = os.path.join(work, "net.onnx")
            run_json([PY, os.path.join(REPO, "models", "export_onnx.py"), a.weights_file, a.onnx_file], env1)
        for t in a.threads_list:
            if "net" not in skip:
                bench_network(a, work, t, results)
            if "e2e" not in skip:
                bench_e2e(a, work, t, results)
        if "rss" not in skip:
            bench_rss(a, work, max(a.threads_list), results)
        report.check_features(results, a.npatch)
        info = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": report.cpu_model(), "cores": os.cpu_count(), "load": os.getloadavg(),
            "host": platform.node(), "command": a.command, "minutes": (time.time() - started) / 60,
            "weights": "seeded test network (untrained), " + os.path.basename(a.weights_file)
                       if not a.weights else a.weights,
            "patches": f"{a.npatch} patches cropped from {PATCH_PHOTO}",
            "e2e": f"{len(PHOTOS)} full-size photos x {a.e2e_points} random points",
            "quick": a.quick,
        }
        if a.json:
            with open(a.json, "w") as f:
                for r in results:
                    f.write(json.dumps(r) + "\n")
        report.print_report(info, results, a)
    finally:
        if a.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
