#!/usr/bin/python3
"""`polyp extract --weights X.pth`: PyTorch checkpoints read directly give the features of
the converter path (models/convert.py -> safetensors) bit for bit, and hostile or broken
checkpoints are refused with a one-line reason.

usage: test_checkpoints_cli.py PATH/TO/polyp

Every checkpoint of tests/e2e/make_checkpoints.py (all accepted layouts in both torch.save
formats, made from the seeded test network's tensors) is written, checked and deleted in turn:
- accepted: `polyp extract` on the .pth and on convert.py's safetensors of it write the same
  .featurevector bytes (same features, same extractor record: the id is the .pth's sha256
  either way); 'exact' cases (same float32 tensors, lukemelas) also equal the test network's
  own features; torchvision's must differ from them (the variant changes the padding);
- refused: non-zero exit, one line on stderr containing the expected word, no output file,
  and no side effect of the evil pickles.
Needs numpy and torch (Debian's /usr/bin/python3); exits 77 (ctest: skipped) without them.
"""
import hashlib
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch  # noqa: F401  (make_checkpoints needs it)
except ImportError:
    print("SKIPPED: numpy or torch not available", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models"))
import convert  # noqa: E402
import make_checkpoints  # noqa: E402

FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, file=sys.stderr)
    return cond


def main():
    polyp = sys.argv[1]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        def path(*p):
            return os.path.join(tmp, *p)

        def extract(weights, out):
            return subprocess.run([polyp, "extract", "--weights", weights, "--images", path("img"),
                                   "--points", path("points.csv"), "--out", out, "--threads", "2"],
                                  capture_output=True, text=True)

        def features(out):
            with np.load(os.path.join(out, "a.png.featurevector")) as z:
                return z["feat"].copy()

        def file_bytes(out):
            with open(os.path.join(out, "a.png.featurevector"), "rb") as f:
                return f.read()

        os.makedirs(path("img"))
        os.makedirs(path("scratch"))
        with open(os.path.join(ROOT, "tests", "fixtures", "effnet", "synth_300x200.png"), "rb") as f:
            data = f.read()
        with open(path("img", "a.png"), "wb") as f:
            f.write(data)
        with open(path("points.csv"), "w") as f:
            f.write("Name,Row,Column\na.png,10,20\na.png,100,150\na.png,199,299\n")
        r = subprocess.run([polyp, "testnet", "--out", path("testnet.safetensors")], capture_output=True, text=True)
        if not check(r.returncode == 0, "testnet: " + r.stderr):
            return 1
        r = extract(path("testnet.safetensors"), path("ref"))
        if not check(r.returncode == 0, "reference extract: " + r.stderr):
            return 1
        ref = features(path("ref"))
        check(float(ref.std()) > 1e-2, "reference features are near constant")
        n_ok = n_bad = 0
        for fname, kind, detail, write in make_checkpoints.cases(path("testnet.safetensors"), path("scratch")):
            ck = path(fname)
            write(ck)
            out = path("out_" + fname)
            r = extract(ck, out)
            if kind == "ok":
                n_ok += 1
                if not check(r.returncode == 0, "%s: refused: %s" % (fname, r.stderr.strip())):
                    os.remove(ck)
                    continue
                conv = path("conv.safetensors")
                layout, _ = convert.convert(ck, conv)
                check(layout == ("torchvision" if detail == "torchvision" else "lukemelas"),
                      "%s: converter says %s" % (fname, layout))
                r2 = extract(conv, path("conv_" + fname))
                check(r2.returncode == 0, "%s: converted file refused: %s" % (fname, r2.stderr.strip()))
                check(file_bytes(out) == file_bytes(path("conv_" + fname)),
                      "%s: .pth and converted safetensors give different feature files" % fname)
                got = features(out)
                if detail == "exact":
                    check(np.array_equal(got, ref), "%s: features differ from the test network's" % fname)
                elif detail == "torchvision":
                    check(float(np.abs(got - ref).max()) > 1e-3, "%s: torchvision variant had no effect" % fname)
                with open(ck, "rb") as f:
                    sha = hashlib.sha256(f.read()).hexdigest()
                with np.load(os.path.join(out, "a.png.featurevector")) as z:
                    if check("extractor" in z.files, "%s: no extractor record in the feature file" % fname):
                        rec = str(z["extractor"])
                        check(("efficientnet_b0:%s:1280" % sha) in rec,
                              "%s: extractor record %r lacks the .pth's sha256" % (fname, rec))
                os.remove(conv)
            else:
                n_bad += 1
                lines = r.stderr.strip().splitlines()
                check(r.returncode != 0, "%s: accepted" % fname)
                check(len(lines) == 1, "%s: %d stderr lines: %r" % (fname, len(lines), r.stderr))
                check(detail in r.stderr, "%s: message lacks %r: %s" % (fname, detail, r.stderr.strip()))
                check(not os.path.exists(os.path.join(out, "a.png.featurevector")), "%s: wrote output" % fname)
            os.remove(ck)
        check(not os.listdir(path("scratch")), "an evil pickle had a side effect")
        print("checkpoints: %d accepted, %d refused, %d failures" % (n_ok, n_bad, len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
