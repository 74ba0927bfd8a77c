"""Independent PyTorch reference of EfficientNet-B0 as polyp runs it (DESIGN.md).

Two variants, chosen at construction:
- 'lukemelas' (default): the EfficientNet-PyTorch network pyspacer/CoralNet uses: TensorFlow
  "SAME" padding computed statically for a 224x224 input, BN eps 1e-3.
- 'torchvision': torchvision's efficientnet_b0 numerics: symmetric k//2 padding, BN eps 1e-5.

Parameter and buffer names equal the canonical safetensors names (testnet-spec.md), so a
canonical file loads with load_state_dict(strict=True). There is no `_fc` layer: polyp's output
is the 1280-value globally pooled head activation. Drop-connect is not modelled: it is an
identity in eval mode, and the BN calibration pass (testnet.py) wants deterministic batch stats.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

INPUT_SIZE = 224
FEATURE_DIM = 1280
STEM_CHANNELS = 32
HEAD_IN = 320

# (kernel, stride, expand, in, out, repeats) per stage of B0.
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)

VARIANTS = {'lukemelas': 1e-3, 'torchvision': 1e-5}  # variant -> BN eps


def block_table():
    """The 16 MBConv blocks as dicts: in, out, k, stride, expand, hidden, se (squeezed)."""
    blocks = []
    for k, s, e, cin, cout, reps in STAGES:
        for r in range(reps):
            bin_ = cin if r == 0 else cout
            blocks.append(dict(k=k, stride=s if r == 0 else 1, expand=e, cin=bin_, cout=cout,
                               hidden=bin_ * e, se=max(1, bin_ // 4)))
    return blocks


def same_pads(size, k, stride):
    """TF 'SAME' (before, after) padding for one spatial dim of length `size`."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def swish(x):
    return x * torch.sigmoid(x)


class PadConv(nn.Conv2d):
    """Conv2d with explicit, fixed (top, bottom, left, right) zero padding applied before it.

    The pads are fixed at construction like lukemelas' static-padding conv: the network is
    only defined for 224x224 inputs.
    """

    def __init__(self, cin, cout, k, stride=1, groups=1, bias=False, pads=(0, 0, 0, 0)):
        super().__init__(cin, cout, k, stride=stride, padding=0, groups=groups, bias=bias)
        self.pads = pads

    def forward(self, x):
        top, bottom, left, right = self.pads
        if any(self.pads):
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def make_pads(variant, size, k, stride):
    if variant == 'lukemelas':
        before, after = same_pads(size, k, stride)
    else:
        before = after = k // 2
    return (before, after, before, after)


class MBConv(nn.Module):
    def __init__(self, cfg, size, variant, eps):
        super().__init__()
        self.cfg = cfg
        hidden, k = cfg['hidden'], cfg['k']
        if cfg['expand'] != 1:
            self._expand_conv = PadConv(cfg['cin'], hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, eps=eps)
        self._depthwise_conv = PadConv(hidden, hidden, k, stride=cfg['stride'], groups=hidden,
                                       pads=make_pads(variant, size, k, cfg['stride']))
        self._bn1 = nn.BatchNorm2d(hidden, eps=eps)
        self._se_reduce = PadConv(hidden, cfg['se'], 1, bias=True)
        self._se_expand = PadConv(cfg['se'], hidden, 1, bias=True)
        self._project_conv = PadConv(hidden, cfg['cout'], 1)
        self._bn2 = nn.BatchNorm2d(cfg['cout'], eps=eps)
        self.residual = cfg['stride'] == 1 and cfg['cin'] == cfg['cout']

    def forward(self, x):
        h = x
        if self.cfg['expand'] != 1:
            h = swish(self._bn0(self._expand_conv(h)))
        h = swish(self._bn1(self._depthwise_conv(h)))
        s = h.mean(dim=(2, 3), keepdim=True)
        s = self._se_expand(swish(self._se_reduce(s)))
        h = h * torch.sigmoid(s)
        h = self._bn2(self._project_conv(h))
        if self.residual:
            h = h + x
        return h


class EfficientNetB0(nn.Module):
    """forward(x: N x 3 x 224 x 224 float32 in [0,1]) -> N x 1280 features."""

    def __init__(self, variant='lukemelas'):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError('unknown variant %r (expected one of %s)' % (variant, sorted(VARIANTS)))
        self.variant = variant
        eps = VARIANTS[variant]
        size = INPUT_SIZE
        self._conv_stem = PadConv(3, STEM_CHANNELS, 3, stride=2,
                                  pads=make_pads(variant, size, 3, 2))
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=eps)
        size = math.ceil(size / 2)
        blocks = []
        for cfg in block_table():
            blocks.append(MBConv(cfg, size, variant, eps))
            size = math.ceil(size / cfg['stride'])
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = PadConv(HEAD_IN, FEATURE_DIM, 1)
        self._bn1 = nn.BatchNorm2d(FEATURE_DIM, eps=eps)

    def layers(self, x):
        """Yields (name, activation) after the stem, each block and the head (before pooling)."""
        x = swish(self._bn0(self._conv_stem(x)))
        yield 'stem', x
        for i, block in enumerate(self._blocks):
            x = block(x)
            yield 'block%d' % i, x
        x = swish(self._bn1(self._conv_head(x)))
        yield 'head', x

    def forward(self, x):
        for _, x in self.layers(x):
            pass
        return x.mean(dim=(2, 3))


def canonical_shapes():
    """name -> shape of every tensor of the canonical file, in state_dict order."""
    model = EfficientNetB0()
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if not k.endswith('num_batches_tracked')}
