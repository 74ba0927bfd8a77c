"""`polyp extract --backend cuda` where CUDA cannot run: exactly one clear line and a non-zero
exit, never a crash and no output file. Run with CUDA_VISIBLE_DEVICES set to empty, so it
holds on a GPU machine too (no device visible) as much as in a build without CUDA or on a
machine without a driver. Also: --precision / --devices refuse bad values in one line, and
--backend auto with no device still extracts (on the CPU), as CI needs.

usage: test_cuda_cli.py POLYP
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_checks as cc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = os.path.join(HERE, "..", "fixtures", "effnet", "synth_300x200.png")
ENV = dict(os.environ, CUDA_VISIBLE_DEVICES="")


def run(args):
    return subprocess.run(cc._POLYP + args, capture_output=True, text=True, env=ENV, timeout=300)


def one_line(args, needles, label):
    r = run(args)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    cc.check(r.returncode == 1, "%s: exit status %d, expected 1 (negative = a signal)" % (label, r.returncode))
    cc.check(len(lines) == 1, "%s: %d lines on stderr: %r" % (label, len(lines), r.stderr))
    cc.check(any(n in r.stderr for n in needles), "%s: none of %r in %r" % (label, needles, r.stderr))
    return r


def main():
    cc.init(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="polyp-cuda-cli-")
    try:
        images = os.path.join(tmp, "images")
        os.makedirs(images)
        shutil.copy(IMAGE, os.path.join(images, "a.png"))
        points = os.path.join(tmp, "points.csv")
        with open(points, "w") as f:
            f.write("Name,Row,Column\na.png,10,20\na.png,199,299\n")
        weights = os.path.join(tmp, "w.safetensors")
        cc.make_testnet(weights)
        base = ["extract", "--weights", weights, "--images", images, "--points", points]

        out = os.path.join(tmp, "out-cuda")
        # Which of the three reasons depends on the machine and the build; each is one line.
        r = one_line(base + ["--out", out, "--backend", "cuda"],
                     ["polyp extract: cuda: no CUDA device is visible",
                      "polyp extract: cuda: no usable NVIDIA driver",
                      "polyp extract: cuda: this polyp was built without CUDA"], "--backend cuda, no device")
        print("--backend cuda without a device says: %s" % r.stderr.strip())
        made = [n for _, _, files in os.walk(out) for n in files] if os.path.isdir(out) else []
        cc.check(not any(n.endswith(".featurevector") for n in made), "--backend cuda failed but wrote %r" % made)
        one_line(base + ["--out", out, "--backend", "cuda", "--precision", "fast", "--devices", "1"],
                 ["polyp extract: cuda: "], "--backend cuda --precision fast --devices 1, no device")

        one_line(base + ["--out", out, "--precision", "half"], ["--precision must be exact or fast, got 'half'"],
                 "bad --precision")
        one_line(base + ["--out", out, "--devices", "0,0"], ["--devices '0,0': device 0 is listed twice"],
                 "duplicate --devices")
        one_line(base + ["--out", out, "--devices", "0,x"], ["--devices '0,x': 'x' is not a device index"],
                 "bad --devices")
        one_line(base + ["--out", out, "--backend", "portable", "--precision", "fast"],
                 ["--precision and --devices apply to --backend cuda or auto, not portable"], "--precision on the CPU")
        one_line(base + ["--out", out, "--backend", "cuda", "--queue", "2"],
                 ["--queue is not supported with --backend cuda yet"], "--queue with cuda")
        one_line(base + ["--out", out, "--backend", "gpu"],
                 ["--backend must be auto, cuda, xnnpack or portable, got 'gpu'"], "bad --backend")

        # AUTO with no device: the CPU backend, and the features are written.
        out = os.path.join(tmp, "out-auto")
        r = run(base + ["--out", out, "--backend", "auto", "--threads", "1"])
        cc.check(r.returncode == 0, "--backend auto without a device failed: %s" % r.stderr)
        cc.check(os.path.isfile(os.path.join(out, "a.png.featurevector")), "--backend auto wrote no features")
        cc.check("backend cuda" not in r.stderr, "--backend auto claims cuda with no device: %s" % r.stderr)

        r = run(["extract", "--help"])
        for opt in ("--precision", "--devices", "cuda"):
            cc.check(opt in r.stdout, "extract --help does not mention %s" % opt)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cc.finish("cuda CLI")


if __name__ == "__main__":
    sys.exit(main())
