"""The peers' network: the project's PyTorch reference (models/effnet_ref.py) loaded with the
very weights file polyp benchmarks (the seeded test network, written by bench_extract), so
every engine in a run computes the same function on the same pixels.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy). No safetensors package there: the
file format is small enough to read here (8-byte little-endian header length, JSON header,
raw little-endian tensors).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PATCH = 224
FEATURE_DIM = 1280


def read_safetensors(path):
    """name -> float32 numpy array, and the file's __metadata__ dict."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + hlen])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, the bench expects F32")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4,
                                  offset=base + begin).reshape(info["shape"])
    return out, meta


def load_reference(weights_path):
    """The reference EfficientNet-B0 in eval mode, gradients off, weights from the file.
    Returns a module whose forward(x: N x 3 x 224 x 224 float32) gives N x 1280 features,
    and the underlying network (whose extract_features is what pyspacer calls)."""
    sys.path.insert(0, REPO)
    from models import effnet_ref  # netref's reference implementation

    tensors, meta = read_safetensors(weights_path)
    variant = meta.get("variant", "lukemelas")
    net = effnet_ref.build_model(variant=variant) if hasattr(effnet_ref, "build_model") \
        else effnet_ref.EfficientNetB0(variant=variant)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("_fc.") and "num_batches_tracked" not in k]
    if missing or unexpected:
        raise ValueError(f"{weights_path}: weights do not fit the reference network "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    net.eval()
    for p in net.parameters():
        p.requires_grad = False
    return Features(net), net


class Features(torch.nn.Module):
    """forward = the pooled 1280-d feature, so tracing and ONNX export see only that."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x)


def read_patches(path, n):
    """N x 224 x 224 x 3 float32 (HWC, values k/255), as bench_extract wrote them."""
    a = np.fromfile(path, dtype="<f4")
    if a.size != n * PATCH * PATCH * 3:
        raise ValueError(f"{path}: {a.size} floats, expected {n} patches")
    return a.reshape(n, PATCH, PATCH, 3)
