"""The peers' network: the project's PyTorch reference (models/effnet_ref.py) loaded with the
very weights file polyp benchmarks (the seeded test network, written by bench_extract), so
every engine in a run computes the same function on the same pixels.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy).
"""
import os
import sys

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, REPO)
from models import effnet_ref, safetensors_io  # noqa: E402  (netref's reference and reader)

PATCH = 224
FEATURE_DIM = 1280


def load_reference(weights_path):
    """The reference EfficientNet-B0 in eval mode, gradients off, weights from the file
    (strict: every canonical tensor must be there; `_fc.*` and num_batches_tracked ignored).
    forward(x: N x 3 x 224 x 224 float32) gives the N x 1280 pooled features, which is what
    pyspacer's net.extract_features returns."""
    tensors, meta = safetensors_io.read(weights_path)
    net = effnet_ref.EfficientNetB0(variant=meta.get("variant", "lukemelas"))
    state = {k: torch.from_numpy(v) for k, v in tensors.items()
             if not k.startswith("_fc.") and not k.endswith("num_batches_tracked")}
    net.load_state_dict(state, strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad = False
    return net


def fold_symmetric_pads(net):
    """Moves every symmetric explicit zero pad (stride-1 convolutions) into the convolution's
    own padding: same numbers, one copy less per layer. The reference (like lukemelas' static
    SAME padding) pads explicitly; PyTorch's best setting should not pay for that. Stride-2
    layers pad asymmetrically (TF SAME) and keep their explicit pad."""
    for m in net.modules():
        if isinstance(m, effnet_ref.PadConv):
            top, bottom, left, right = m.pads
            if top == bottom and left == right:
                m.padding = (top, left)
                m.pads = (0, 0, 0, 0)
    return net


def read_patches(path, n):
    """N x 224 x 224 x 3 float32 (HWC, values k/255), as bench_extract wrote them."""
    a = np.fromfile(path, dtype="<f4")
    if a.size != n * PATCH * PATCH * 3:
        raise ValueError(f"{path}: {a.size} floats, expected {n} patches")
    return a.reshape(n, PATCH, PATCH, 3)
