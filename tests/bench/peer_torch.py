"""PyTorch peers of the extraction benchmark (Debian python3-torch via /usr/bin/python3).

--mode coralnet   the way CoralNet's engine (pyspacer TorchExtractor.patches_to_features)
                  runs it: eval(), torch.no_grad(), NCHW float32, batches of 10, each batch
                  built with torch.stack([ToTensor(uint8 HWC patch)]) and turned into
                  Python lists with .tolist(). 32 patches = batches 10, 10, 10, 2 as pyspacer
                  cuts them.
--mode best       PyTorch's best CPU setting we found: symmetric pads folded into the
                  convolutions, channels_last weights and input, inference_mode, the fastest of eager / torch.jit.freeze /
                  torch.jit.optimize_for_inference (all are measured and printed). The
                  allocator comes from the environment (LD_PRELOAD), set by bench.py.
--mode coralnet-e2e  whole images as pyspacer does them (FeatureExtractor.__call__ ->
                  crop_patches): Pillow open, convert('RGB'), np.array, numpy reflect pad
                  by 224, crop, then the coralnet loop above.

Threads: torch.set_num_threads(T) here; OMP_NUM_THREADS / MKL_NUM_THREADS are set by the
caller before Python starts. Prints one JSON line per measured configuration.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

import peer_net

CORALNET_BATCH = 10  # pyspacer TorchExtractor.BATCH_SIZE


def to_tensor(patch_u8):
    """torchvision.transforms.ToTensor() for an HWC uint8 array (torchvision is not in
    Debian's torch packages): CHW, float32, / 255."""
    return torch.from_numpy(patch_u8).permute(2, 0, 1).contiguous().to(torch.float32).div(255)


def coralnet_features(net, patch_list):
    """pyspacer's loop; net(batch) is the reference's forward = extract_features there."""
    feats = []
    for b in range(int(np.ceil(len(patch_list) / CORALNET_BATCH))):
        batch = patch_list[b * CORALNET_BATCH:(b + 1) * CORALNET_BATCH]
        batch = torch.stack([to_tensor(p) for p in batch])
        with torch.no_grad():
            features = net(batch)
        feats.extend(features.tolist())
    return feats


def timed(fn, iters, budget_s, warmup=1):
    """Median seconds of fn() over up to `iters` runs after `warmup` runs; stops early once
    `budget_s` seconds are spent, after at least one run (same rule as bench_extract.c)."""
    for _ in range(warmup):
        out = fn()
    times, spent = [], 0.0
    while len(times) < iters and (not times or spent < budget_s):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return statistics.median(times), len(times), out


def emit(rec):
    print(json.dumps(rec), flush=True)


def allocator_name():
    pre = os.environ.get("LD_PRELOAD", "")
    if "jemalloc" in pre:
        return "jemalloc"
    if "tcmalloc" in pre:
        return "tcmalloc"
    return "glibc malloc"


def run_coralnet(args, patches):
    net = peer_net.load_reference(args.weights)
    u8 = [np.rint(p * 255).astype(np.uint8) for p in patches]
    lat, lat_runs, _ = timed(lambda: coralnet_features(net, u8[:1]), args.lat_iters, args.budget)
    thr, thr_runs, feats = timed(lambda: coralnet_features(net, u8), args.thr_iters, args.budget)
    if args.write_features:
        np.asarray(feats, dtype=np.float32).tofile(args.write_features)
    emit({"engine": "torch-coralnet", "threads": args.threads, "lat_ms": lat * 1e3,
          "lat_runs": lat_runs, "batch": len(u8), "batch_s": thr, "pps": len(u8) / thr,
          "thr_runs": thr_runs, "allocator": allocator_name(),
          "setting": "eval, no_grad, NCHW fp32, batches of 10 (pyspacer)",
          "torch": torch.__version__,
          "torch_threads": torch.get_num_threads()})


def best_variants(net, example, wanted):
    """(name, callable module) for every requested channels_last variant that builds:
    eager, freeze (torch.jit.trace + freeze), ofi (+ torch.jit.optimize_for_inference,
    which moves convolutions to oneDNN)."""
    m = peer_net.fold_symmetric_pads(net).to(memory_format=torch.channels_last)
    out = [("channels_last eager", m)] if "eager" in wanted else []
    with torch.no_grad():
        for key, name in (("freeze", "channels_last jit.freeze"),
                          ("ofi", "channels_last jit.optimize_for_inference")):
            if key not in wanted:
                continue
            try:
                frozen = torch.jit.freeze(torch.jit.trace(m, example).eval())
                out.append((name, torch.jit.optimize_for_inference(frozen) if key == "ofi" else frozen))
            except Exception as e:  # noqa: BLE001 - report it, keep the other variants
                print(f"peer_torch: {name} failed: {e}", flush=True)
    return out


def run_best(args, patches):
    net = peer_net.load_reference(args.weights)
    # NHWC memory viewed as NCHW is exactly a channels_last tensor: no copy needed.
    x = torch.from_numpy(np.ascontiguousarray(patches)).permute(0, 3, 1, 2)
    x1 = x[:1]
    assert x.is_contiguous(memory_format=torch.channels_last)
    best = None
    for name, mod in best_variants(net, x[:2], args.variants.split(",")):
        def run(inp, mod=mod):
            with torch.inference_mode():
                return mod(inp)
        # jit's profiling executor specialises during its first runs: warm those up 3 times.
        warm = 1 if "eager" in name else 3
        lat, lat_runs, _ = timed(lambda: run(x1), args.lat_iters, args.budget, warmup=warm)
        thr, thr_runs, feats = timed(lambda: run(x), args.thr_iters, args.budget, warmup=warm)
        rec = {"engine": "torch-best", "variant": name, "threads": args.threads,
               "lat_ms": lat * 1e3, "lat_runs": lat_runs, "batch": x.shape[0], "batch_s": thr,
               "pps": x.shape[0] / thr, "thr_runs": thr_runs, "allocator": allocator_name(),
               "setting": f"{name}, inference_mode", "torch": torch.__version__,
               "torch_threads": torch.get_num_threads()}
        emit(dict(rec, engine="torch-best-candidate"))
        if best is None or rec["pps"] > best[0]["pps"]:
            best = (rec, feats)
    if args.write_features:
        best[1].float().contiguous().numpy().tofile(args.write_features)
    emit(best[0])


def run_coralnet_e2e(args):
    """Whole photos through pyspacer's pipeline; points from a Name,Row,Column CSV."""
    from PIL import Image
    import csv
    net = peer_net.load_reference(args.weights)
    points = {}
    with open(args.points, newline="") as f:
        for r in csv.DictReader(f):
            points.setdefault(r["Name"], []).append((int(r["Row"]), int(r["Column"])))

    def crop_patches(im, rowcols, crop_size=224):  # pyspacer spacer/extractors/utils.py
        im = np.array(im.convert("RGB"))
        pad = crop_size
        im = np.pad(im, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out = []
        for row, col in rowcols:
            upper, left = row + pad - crop_size // 2, col + pad - crop_size // 2
            out.append(im[upper:upper + crop_size, left:left + crop_size, :])
        return out

    def run_all():
        n = 0
        for name, rc in points.items():
            with Image.open(os.path.join(args.images, name)) as im:
                im.load()
                feats = coralnet_features(net, crop_patches(im, rc))
            n += len(feats)
        return n

    t, runs, npatch = timed(run_all, args.thr_iters, args.budget, warmup=0)
    import resource
    emit({"engine": "torch-coralnet-e2e", "threads": args.threads, "images": len(points),
          "patches": npatch, "wall_s": t, "runs": runs, "ips": len(points) / t,
          "pps": npatch / t, "allocator": allocator_name(), "torch": torch.__version__,
          "torch_threads": torch.get_num_threads(),
          "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["coralnet", "best", "coralnet-e2e"], required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--patches")
    ap.add_argument("--npatch", type=int, default=32)
    ap.add_argument("--images")
    ap.add_argument("--points")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lat-iters", type=int, default=10)
    ap.add_argument("--thr-iters", type=int, default=5)
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--write-features")
    ap.add_argument("--variants", default="eager,freeze,ofi", help="--mode best: variants to try")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "coralnet-e2e":
        run_coralnet_e2e(args)
        return
    patches = peer_net.read_patches(args.patches, args.npatch)
    (run_coralnet if args.mode == "coralnet" else run_best)(args, patches)


if __name__ == "__main__":
    main()
