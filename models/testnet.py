"""The seeded test network (testnet-spec.md): PRNG weights + committed BN statistics.

No pretrained EfficientNet-B0 weights exist here, so correctness is shown against this
reference with weights that C (core/testnet.c) regenerates bit for bit from the same PRNG.
BN running statistics come from one train-mode forward pass over real patches (random
default init would shrink the features to ~1e-14, where any parity test passes).

Usage:
  python3 models/testnet.py --calibrate            # rewrite models/testnet-bnstats.safetensors
  python3 models/testnet.py --out W.safetensors    # write the full canonical weights file
  python3 models/testnet.py --prng-fixture         # rewrite tests/fixtures/effnet/prng.txt
"""
import argparse
import csv
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import effnet_ref  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(HERE)
TESTDATA = os.path.join(ROOT, '..', 'shared', 'testdata')
BNSTATS = os.path.join(HERE, 'testnet-bnstats.safetensors')
PRNG_FIXTURE = os.path.join(ROOT, 'tests', 'fixtures', 'effnet', 'prng.txt')
DEFAULT_SEED = 20261128
PATCH = 224
HALF = PATCH // 2

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ---- PRNG ---------------------------------------------------------------------------------

def fnv1a64(name):
    h = 0xcbf29ce484222325
    for b in name.encode('utf-8'):
        h ^= b
        h = (h * 0x100000001b3) & M64
    return h


def _mix64(z):
    """Vectorised splitmix64 finaliser on a uint64 array (numpy wraps array arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def prng_uniform(name, numel, seed=DEFAULT_SEED):
    """v[i] in [-1, 1) for i = 0..numel-1, float32, exactly as testnet-spec.md says."""
    base = np.uint64((seed + fnv1a64(name)) & M64)
    i = np.arange(1, numel + 1, dtype=np.uint64)
    with np.errstate(over='ignore'):
        r = _mix64(base + i * np.uint64(GOLDEN))
    q = (r >> np.uint64(40)).astype(np.int64) - 8388608
    return q.astype(np.float32) * np.float32(1.0 / 8388608.0)


def _f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def prng_value_scalar(name, shape, index, seed=DEFAULT_SEED):
    """One tensor element with plain Python integers/doubles: an independent check of the
    vectorised path (every float32 product here is exact in double, then rounded once)."""
    z = (seed + fnv1a64(name) + (index + 1) * GOLDEN) & M64
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    v = ((z >> 40) - 8388608) / 8388608.0
    kind = tensor_kind(name)
    if kind == 'conv':
        fan_in = shape[1] * shape[2] * shape[3]
        return _f32(v * _f32(math.sqrt(3.0 / fan_in)))
    if kind in ('se_bias', 'bn_beta'):
        return _f32(v * 0.25)
    if kind == 'bn_gamma':
        return _f32(1.0 + _f32(v * 0.25))
    raise ValueError('%s is not PRNG-generated' % name)


def tensor_kind(name):
    leaf = name.rsplit('.', 2)
    module, param = leaf[-2], leaf[-1]
    if param in ('running_mean', 'running_var'):
        return 'bn_stat'
    if module.startswith('_bn'):
        return {'weight': 'bn_gamma', 'bias': 'bn_beta'}[param]
    if param == 'bias':
        return 'se_bias'
    return 'conv'


def prng_tensor(name, shape, seed=DEFAULT_SEED):
    """The PRNG-defined tensor `name` (float32, `shape`); BN stats are not PRNG-defined."""
    numel = int(np.prod(shape))
    v = prng_uniform(name, numel, seed).reshape(shape)
    kind = tensor_kind(name)
    if kind == 'conv':
        fan_in = shape[1] * shape[2] * shape[3]
        return v * np.float32(math.sqrt(3.0 / fan_in))
    if kind in ('se_bias', 'bn_beta'):
        return v * np.float32(0.25)
    if kind == 'bn_gamma':
        return np.float32(1.0) + v * np.float32(0.25)
    raise ValueError('%s is not PRNG-generated' % name)


def state_dict(seed=DEFAULT_SEED, bnstats_path=BNSTATS):
    """Full canonical tensors (numpy float32, canonical order). With bnstats_path=None the BN
    statistics are mean 0 / var 1 (only used before calibration)."""
    stats = None
    if bnstats_path is not None:
        stats, meta = safetensors_io.read(bnstats_path)
        if meta.get('seed') != str(seed):
            raise ValueError('%s holds statistics for seed %s, not %d'
                             % (bnstats_path, meta.get('seed'), seed))
    out = {}
    for name, shape in effnet_ref.canonical_shapes().items():
        kind = tensor_kind(name)
        if kind != 'bn_stat':
            out[name] = prng_tensor(name, shape, seed)
        elif stats is not None:
            out[name] = stats[name]
        else:
            out[name] = (np.zeros if name.endswith('mean') else np.ones)(shape, np.float32)
    return out


def build_model(seed=DEFAULT_SEED, bnstats_path=BNSTATS, variant='lukemelas'):
    model = effnet_ref.EfficientNetB0(variant)
    sd = {k: torch.from_numpy(v) for k, v in state_dict(seed, bnstats_path).items()}
    model.load_state_dict(sd, strict=False)  # num_batches_tracked stays at its default
    return model.eval()


# ---- patches ------------------------------------------------------------------------------

def load_rgb(path):
    """8-bit RGB as DESIGN.md says: alpha dropped (not composited), gray replicated."""
    from PIL import Image
    with Image.open(path) as im:
        im.load()
        arr = np.asarray(im)
        mode = im.mode
    if mode == 'L':
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode == 'RGBA':
        return np.ascontiguousarray(arr[:, :, :3])
    if mode == 'RGB':
        return arr
    raise ValueError('%s: mode %s not handled by the reference loader' % (path, mode))


def crop(img, row, col):
    """224x224 patch centred on (row, col): numpy reflect-pad by 224, point at (112, 112)."""
    h, w = img.shape[:2]
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError('point (%d, %d) outside a %dx%d image' % (row, col, h, w))
    padded = np.pad(img, ((PATCH, PATCH), (PATCH, PATCH), (0, 0)), mode='reflect')
    r0, c0 = row + PATCH - HALF, col + PATCH - HALF
    return padded[r0:r0 + PATCH, c0:c0 + PATCH]


def to_input(patches):
    """list of HxWx3 uint8 -> N x 3 x 224 x 224 float32 tensor, uint8/255, no normalisation."""
    x = np.stack(patches).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def calibration_patches():
    """48 real patches: every 15th seattle point (44) + the 4 parity patch PNGs (centre)."""
    root = os.path.join(TESTDATA, 'seattle-patches')
    with open(os.path.join(root, 'points.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    patches = []
    for r in rows[::15][:44]:
        patches.append(crop(load_rgb(os.path.join(root, r['image'])), int(r['row']),
                            int(r['column'])))
    parity = os.path.join(TESTDATA, 'parity-images')
    for name in sorted(os.listdir(parity)):
        if name.startswith('patch_') and name.endswith('.png'):
            img = load_rgb(os.path.join(parity, name))
            patches.append(crop(img, img.shape[0] // 2, img.shape[1] // 2))
    if len(patches) != 48:
        raise RuntimeError('expected 48 calibration patches, found %d' % len(patches))
    return patches


def calibrate(seed=DEFAULT_SEED, path=BNSTATS):
    model = effnet_ref.EfficientNetB0()
    sd = {k: torch.from_numpy(v) for k, v in state_dict(seed, None).items()}
    model.load_state_dict(sd, strict=False)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, running = batch stats
    model.train()
    x = to_input(calibration_patches())
    with torch.no_grad():
        model(x)
    stats = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()
             if k.endswith('running_mean') or k.endswith('running_var')}
    safetensors_io.write(path, stats, {'format': 'polyp-testnet-bnstats', 'seed': str(seed)})
    model.eval()
    with torch.no_grad():
        feats = model(x).numpy()
    report_spread(feats, 'calibration batch (eval mode)')
    return stats


def report_spread(feats, what):
    """Prints the features' spread; raises if it is tiny (a parity test would then be void)."""
    across_patches = float(feats.std(axis=0).mean())
    across_dims = float(feats.std(axis=1).mean())
    print('%s: %d x %d, mean %.4f, std across patches (mean over dims) %.4f, '
          'std across dims (mean over patches) %.4f, |max| %.3f'
          % (what, feats.shape[0], feats.shape[1], float(feats.mean()), across_patches,
             across_dims, float(np.abs(feats).max())))
    if not (across_patches >= 1e-3 and across_dims >= 1e-3 and np.isfinite(feats).all()):
        raise RuntimeError('features spread is tiny or not finite: the test network is broken')
    return across_patches, across_dims


# ---- fixtures / files ---------------------------------------------------------------------

PRNG_CASES = (
    ('_conv_stem.weight', (0, 1, 863)),
    ('_bn0.weight', (0, 31)),
    ('_bn0.bias', (5,)),
    ('_blocks.0._depthwise_conv.weight', (0, 287)),
    ('_blocks.0._se_reduce.weight', (100,)),
    ('_blocks.0._se_reduce.bias', (7,)),
    ('_blocks.0._se_expand.bias', (31,)),
    ('_blocks.5._depthwise_conv.weight', (2159,)),
    ('_blocks.11._expand_conv.weight', (75263,)),
    ('_blocks.15._expand_conv.weight', (0, 100000, 221183)),
    ('_blocks.15._project_conv.weight', (368639,)),
    ('_conv_head.weight', (0, 123456, 409599)),
    ('_bn1.weight', (1279,)),
    ('_bn1.bias', (640,)),
)


def write_prng_fixture(path=PRNG_FIXTURE, seed=DEFAULT_SEED):
    shapes = effnet_ref.canonical_shapes()
    lines = []
    for name, indices in PRNG_CASES:
        flat = prng_tensor(name, shapes[name], seed).reshape(-1)
        for i in indices:
            scalar = np.float32(prng_value_scalar(name, shapes[name], i, seed))
            if flat[i].view(np.uint32) != scalar.view(np.uint32):
                raise AssertionError('vectorised and scalar PRNG disagree at %s[%d]' % (name, i))
            lines.append('%s %d %08x' % (name, i, int(flat[i].view(np.uint32))))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('wrote %s (%d lines, seed %d)' % (path, len(lines), seed))


def write_weights(path, seed=DEFAULT_SEED):
    safetensors_io.write(path, state_dict(seed),
                         {'format': 'polyp-efficientnet-b0', 'variant': 'lukemelas',
                          'source': 'polyp seeded test network (untrained)', 'seed': str(seed)})
    print('wrote %s' % path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, default=DEFAULT_SEED)
    ap.add_argument('--calibrate', action='store_true', help='rewrite the BN statistics file')
    ap.add_argument('--prng-fixture', action='store_true', help='rewrite tests/fixtures/effnet/prng.txt')
    ap.add_argument('--out', help='write the full canonical weights file here')
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.calibrate:
        calibrate(args.seed)
    if args.prng_fixture:
        write_prng_fixture(seed=args.seed)
    if args.out:
        write_weights(args.out, args.seed)
    if not (args.calibrate or args.prng_fixture or args.out):
        ap.print_help()


if __name__ == '__main__':
    main()
