"""Feature cross-check and the printed table of the extraction benchmark (bench.py)."""
import os

import numpy as np

FEATURE_DIM = 1280
# Flag a difference above this fraction of the largest reference feature (min 1): the unit
# tests hold polyp to 1e-4 absolute on O(1) fixtures; on real crops some features reach ~100,
# where float32 engines legitimately differ by ~1e-3. This only catches a broken engine.
MISMATCH_REL = 1e-4


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def check_features(results, npatch):
    """Adds max_abs_diff (vs PyTorch as CoralNet runs it, same patches) to every record that
    wrote features."""
    ref = None
    for r in results:
        if r["engine"] == "torch-coralnet" and os.path.exists(r.get("features", "")):
            ref = np.fromfile(r["features"], dtype="<f4").reshape(npatch, FEATURE_DIM)
            break
    for r in results:
        path = r.get("features")
        if ref is None or not path or r["engine"].endswith("-candidate") or not os.path.exists(path):
            continue
        f = np.fromfile(path, dtype="<f4")
        if f.size != ref.size:
            r["max_abs_diff"] = float("inf")
            continue
        r["max_abs_diff"] = float(np.abs(f.reshape(ref.shape) - ref).max())
        r["feat_scale"] = float(np.abs(ref).max())


def label(r):
    if r.get("torch_threads", r["threads"]) != r["threads"]:
        return f"{_label(r)} [ran on {r['torch_threads']} threads!]"
    return _label(r)


def _label(r):
    e = r["engine"]
    if e.startswith("polyp-"):
        return "polyp " + e[len("polyp-"):]
    if e == "torch-coralnet":
        return f"PyTorch as CoralNet runs it ({r['allocator']})"
    if e == "torch-best":
        return f"PyTorch best: {r['variant']} ({r['allocator']})"
    if e == "onnxruntime":
        return r["setting"].split(",")[0] + " (CPU EP)"
    return e


def fmt_diff(r):
    d = r.get("max_abs_diff")
    if d is None:
        return "-"
    if r.get("feat_scale", 1.0) < 1e-6:
        return f"{d:.1e} (reference features ~0: check meaningless)"
    return f"{d:.1e}" + (" MISMATCH" if d > MISMATCH_REL * max(1.0, r.get("feat_scale", 1.0)) else "")


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def print_report(info, results, a):
    out = []
    p = out.append
    p("")
    p("polyp extraction benchmark" + ("  [--quick SMOKE RUN: numbers are meaningless]" if info["quick"] else ""))
    p(f"  {info['date']}, {info['cpu']}, {info['cores']} cores, load average at the end "
      f"{info['load'][0]:.2f} {info['load'][1]:.2f} {info['load'][2]:.2f}, took {info['minutes']:.1f} min")
    p(f"  weights: {info['weights']}; patches: {info['patches']}")
    p(f"  command: {info['command']}")
    threads = sorted({r["threads"] for r in results})
    net = [r for r in results if "lat_ms" in r and not r["engine"].endswith("-candidate")]
    if net:
        n = net[0]["batch"]
        p("")
        scale = next((r["feat_scale"] for r in net if "feat_scale" in r), None)
        p(f"Network only, same {n} patches, same weights, same threads (median of timed runs; "
          "max|diff| = largest feature difference from PyTorch-as-CoralNet on the same patches"
          + (f", whose largest |feature| is {scale:.3g})" if scale is not None else ")"))
        p(f"  {'thr':>3}  {'engine':<64} {'batch-1 ms':>10} {f'batch-{n} patches/s':>20} {'runs':>6}  max|diff|")
        for t in threads:
            for r in [r for r in net if r["threads"] == t]:
                p(f"  {t:>3}  {label(r):<64} {r['lat_ms']:>10.1f} {r['pps']:>20.2f} "
                  f"{r['lat_runs']:>2}/{r['thr_runs']:<3}  {fmt_diff(r)}")
        p("")
        p(f"Ratios polyp / peer (batch-{n}: polyp patches/s / peer patches/s; batch-1: peer ms / "
          "polyp ms; > 1 means polyp is faster)")
        polyps = [e for e in ("polyp-xnnpack", "polyp-portable", "polyp-cuda")
                  if any(r["engine"] == e for r in net)]
        peers = [e for e in ("torch-coralnet", "torch-best", "onnxruntime") if any(r["engine"] == e for r in net)]
        head = "".join(f"{e[6:] + ' b' + str(n):>16}{e[6:] + ' b1':>14}" for e in polyps)
        p(f"  {'thr':>3}  {'peer':<16}{head}")
        for t in threads:
            by = {r["engine"]: r for r in net if r["threads"] == t}
            for peer in peers:
                if peer not in by:
                    continue
                cells = "".join(
                    f"{ratio(by[e]['pps'], by[peer]['pps']) if e in by else '-':>16}"
                    f"{ratio(by[peer]['lat_ms'], by[e]['lat_ms']) if e in by else '-':>14}" for e in polyps)
                p(f"  {t:>3}  {peer:<16}{cells}")
    cands = [r for r in results if r["engine"] == "torch-best-candidate"]
    if cands:
        p("")
        p("PyTorch settings tried for 'best' (allocator named; the fastest batch-N one is used above)")
        for r in cands:
            p(f"  {r['threads']:>3}  {r['allocator']:<13} {r['variant']:<42} {r['lat_ms']:>9.1f} ms "
              f"{r['pps']:>9.2f} patches/s  ({r['lat_runs']}/{r['thr_runs']} runs)")
    e2e = [r for r in results if r["engine"].endswith("-e2e")]
    if e2e:
        p("")
        p(f"End to end: {info['e2e']} (decode + crop + network + write; median wall time)")
        p(f"  {'thr':>3}  {'engine':<44} {'images/s':>9} {'patches/s':>10} {'wall s':>8} {'peak RSS MiB':>13}")
        for t in threads:
            for r in [r for r in e2e if r["threads"] == t]:
                rss = f"{r['rss_kib'] / 1024:.0f}" if "rss_kib" in r else "-"
                name = r["engine"].replace("-e2e", "")
                name = ("polyp extract --backend " + name[6:]) if name.startswith("polyp-") else \
                    f"pyspacer pipeline on PyTorch ({r.get('allocator', '?')})"
                p(f"  {t:>3}  {name:<44} {r['ips']:>9.3f} {r['pps']:>10.2f} {r['wall_s']:>8.2f} {rss:>13}")
        p("  ratios, polyp extract patches/s over:")
        for t in threads:
            by = {r["engine"]: r for r in e2e + net if r["threads"] == t}
            for e in [k for k in ("polyp-xnnpack-e2e", "polyp-portable-e2e", "polyp-cuda-e2e") if k in by]:
                cells = []
                if "torch-coralnet-e2e" in by:
                    cells.append("pyspacer pipeline e2e " + ratio(by[e]["pps"], by["torch-coralnet-e2e"]["pps"]))
                for peer in ("torch-coralnet", "torch-best", "onnxruntime"):
                    if peer in by:
                        cells.append(f"{peer} network-only {ratio(by[e]['pps'], by[peer]['pps'])}")
                p(f"  {t:>3}  {e[:-4]:<16} " + ", ".join(cells))
        p("  (network-only peers skip decode and crop, so those ratios understate polyp)")
        cmds = [r["cmd"] for r in e2e if "cmd" in r]
        if cmds:
            p(f"  e.g. {cmds[0]}")
    rss = [r for r in results if r["engine"] == "polyp-rss"]
    if rss:
        p("")
        p(f"Peak memory of a bulk run (polyp extract, threads {rss[0]['threads']}, "
          f"{rss[0]['points_per_image']} points per image, photos repeated via symlinks)")
        for r in rss:
            p(f"  {r['images']:>4} images: peak RSS {r['rss_kib'] / 1024:8.1f} MiB, wall {r['wall_s']:.1f} s")
        if len(rss) >= 2:
            p(f"  growth {rss[0]['images']} -> {rss[-1]['images']} images: "
              f"{rss[-1]['rss_kib'] / rss[0]['rss_kib']:.2f}x")
    print("\n".join(out), flush=True)
