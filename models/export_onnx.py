#!/usr/bin/python3
"""Export the reference EfficientNet-B0 (models/effnet_ref.py) with a polyp weights file to
ONNX, for the benchmark's ONNX Runtime peer (tests/bench/peer_ort.mjs).

    /usr/bin/python3 models/export_onnx.py WEIGHTS.safetensors OUT.onnx

Input `patches`: N x 3 x 224 x 224 float32 (RGB, values in [0, 1], batch dimension dynamic);
output `features`: N x 1280 (the pooled feature polyp extracts). torch.onnx.export needs
only torch; the `onnx` package (Debian python3-onnx), when installed, checks the file's
structure. ONNX Runtime has no Python package here, so numerical agreement is checked by the
benchmark itself: it compares every engine's features with PyTorch's before showing speeds.
"""
import argparse
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bench"))
import peer_net  # noqa: E402  (safetensors reader + reference loader shared with the bench)


def main():
    ap = argparse.ArgumentParser(description="Export the reference network to ONNX.")
    ap.add_argument("weights", help="polyp weights (.safetensors)")
    ap.add_argument("out", help="output .onnx file")
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    # torch 1.13's exporter warns about constant folding and shape inference of the fixed
    # pads: harmless here (the graph is checked below and compared numerically by the bench).
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    model = peer_net.load_reference(args.weights)
    example = torch.rand(2, 3, peer_net.PATCH, peer_net.PATCH)
    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, example, tmp, input_names=["patches"],
                          output_names=["features"], opset_version=args.opset,
                          dynamic_axes={"patches": {0: "n"}, "features": {0: "n"}},
                          do_constant_folding=True)
    try:
        import onnx
    except ImportError:
        print("export_onnx: python3-onnx not installed; file not checked", file=sys.stderr)
    else:
        onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, args.out)
    print(f"export_onnx: wrote {args.out} (opset {args.opset})")


if __name__ == "__main__":
    main()
