"""Writes tests/fixtures/effnet/: synthetic PNGs, cases.csv, features.f32, layers.txt.

The expected features come from the PyTorch reference (models/effnet_ref.py, lukemelas
variant, eval mode, float32) with the seeded test network (models/testnet.py, default seed).
Patches are cropped here with numpy only (np.pad reflect + slicing), independent of polyp's
C crop. The script refuses to write features whose spread is tiny: near-constant features
would let any implementation pass the parity test.

Usage: python3 models/make_fixtures.py   (needs ../shared/testdata for the testdata cases)
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import testnet  # noqa: E402

OUT = os.path.join(testnet.ROOT, 'tests', 'fixtures', 'effnet')
MAX_FOLDER_BYTES = 2 * 1024 * 1024
MAX_ABS_FEATURE = 20.0  # float32 rounding of larger values nears the 1e-4 tolerance


def synth_rgb(h, w, seed):
    """uint8 HxWx3: smooth colour gradients + sinusoid texture + noise around the colour
    statistics of real survey patches (mean ~(114, 104, 100), per-patch std ~(25, 22, 21)).

    Saturated full-range colours are far outside what the test network's BN statistics were
    calibrated on, and push its features to the hundreds, where float32 rounding alone
    exceeds the 1e-4 parity tolerance: the fixtures stay near real-image statistics instead.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / max(w - 1, 1) - 0.5, y / max(h - 1, 1) - 0.5
    gradient = np.stack([u + 0.5 * v, v - 0.3 * u, 0.6 * u - 0.6 * v], axis=2) * 2
    texture = np.stack([np.sin(x / 7 + y / 11) * np.cos(y / 5), np.sin(x / 4 - y / 9),
                        np.cos(x / 13) * np.sin(y / 3 + x / 17)], axis=2)
    img = (np.array([114.0, 104.0, 100.0]) + np.array([25.0, 22.0, 21.0]) * (gradient + texture)
           + rng.normal(0, 12, (h, w, 3)))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_images():
    """name -> (array as saved, PIL mode). Deterministic (numpy PCG64 with fixed seeds)."""
    imgs = {}
    imgs['synth_300x200.png'] = (synth_rgb(200, 300, 1), 'RGB')
    imgs['synth_57x41.png'] = (synth_rgb(41, 57, 2), 'RGB')
    gray = synth_rgb(64, 64, 3).astype(np.float64).mean(axis=2)
    imgs['synth_gray_64x64.png'] = (np.rint(gray).astype(np.uint8), 'L')
    rgb = synth_rgb(60, 80, 4)
    # Alpha varies so that compositing (which polyp must NOT do) would change the pixels.
    alpha = (np.arange(80)[None, :] * 3 + np.arange(60)[:, None]) % 256
    imgs['synth_rgba_80x60.png'] = (np.dstack([rgb, alpha.astype(np.uint8)]), 'RGBA')
    return imgs


def fixture_cases():
    """(source, image, row, col) in order; rows/cols 0-based, row = y."""
    c = []
    for rc in [(0, 0), (199, 299), (0, 299), (199, 0), (0, 150), (100, 0), (199, 150),
               (100, 299), (100, 150), (100, 150), (37, 211), (150, 75)]:
        c.append(('fixtures', 'synth_300x200.png') + rc)
    for rc in [(0, 0), (40, 56), (20, 28), (0, 56), (40, 0)]:
        c.append(('fixtures', 'synth_57x41.png') + rc)
    for rc in [(0, 0), (63, 63), (32, 32)]:
        c.append(('fixtures', 'synth_gray_64x64.png') + rc)
    for rc in [(0, 0), (59, 79), (30, 40)]:
        c.append(('fixtures', 'synth_rgba_80x60.png') + rc)
    p = 'parity-images/'
    c += [('testdata', p + 'patch_RE_CCA_c65a945d-3e0c-4e86-9aca.png', 160, 160),
          ('testdata', p + 'patch_SU_shell_960e42fd-5715-4f66-a0.png', 112, 112),
          ('testdata', p + 'patch_unknown_a7bdcedf-0e22-4b69-93f.png', 56, 56),
          ('testdata', p + 'patch_unknown_d8ded047-3b05-4709-bfa.png', 112, 111),
          ('testdata', p + 'patch_unknown_d8ded047-3b05-4709-bfa.png', 0, 221),
          ('testdata', p + 'tiny_23x37.png', 0, 0),
          ('testdata', p + 'tiny_23x37.png', 36, 22),
          ('testdata', p + 'tiny_23x37.png', 18, 11),
          ('testdata', p + 'mode_gray.png', 160, 160),
          ('testdata', p + 'mode_gray.png', 0, 319),
          ('testdata', p + 'mode_rgba.png', 160, 160),
          ('testdata', p + 'mode_rgba.png', 319, 0)]
    return c


def describe(name, t):
    """layers.txt line: name C H W mean std v0 v1 v2 v3 (t: 1 x C x H x W)."""
    a = t[0].numpy().astype(np.float64)
    first = ' '.join('%.9g' % v for v in t[0].reshape(-1)[:4].tolist())
    return '%s %d %d %d %.9g %.9g %s' % (name, a.shape[0], a.shape[1], a.shape[2], a.mean(),
                                         a.std(), first)


def main():
    torch.set_num_threads(1)
    if not os.path.isdir(testnet.TESTDATA):
        sys.exit('make_fixtures: %s not found (the testdata cases need it)' % testnet.TESTDATA)
    os.makedirs(OUT, exist_ok=True)
    for name, (arr, mode) in make_images().items():
        Image.fromarray(arr, mode).save(os.path.join(OUT, name), optimize=True)

    cases = fixture_cases()
    patches = []
    for source, image, row, col in cases:
        base = OUT if source == 'fixtures' else testnet.TESTDATA
        img = testnet.load_rgb(os.path.join(base, image))
        if source == 'fixtures':  # the PNG must round-trip to what was generated
            arr, mode = make_images()[image]
            expect = {'L': lambda a: np.repeat(a[:, :, None], 3, 2),
                      'RGBA': lambda a: a[:, :, :3], 'RGB': lambda a: a}[mode](arr)
            assert np.array_equal(img, expect), image
        patches.append(testnet.crop(img, row, col))

    model = testnet.build_model()
    x = testnet.to_input(patches)
    with torch.no_grad():
        feats = model(x).numpy().astype('<f4')
        layers = [describe(n, t) for n, t in model.layers(x[:1])]
    testnet.report_spread(feats, 'fixture features')
    per_case = np.abs(feats).max(axis=1)
    print('max |feature| per case: min %.3f, median %.3f, max %.3f'
          % (per_case.min(), np.median(per_case), per_case.max()))
    if per_case.max() > MAX_ABS_FEATURE:
        sys.exit('make_fixtures: features reach %.1f: too large for a 1e-4 absolute parity test'
                 % per_case.max())
    assert feats.shape == (len(cases), 1280)

    with open(os.path.join(OUT, 'cases.csv'), 'w', newline='') as f:
        f.write('source,image,row,col\n')
        for source, image, row, col in cases:
            f.write('%s,%s,%d,%d\n' % (source, image, row, col))
    feats.tofile(os.path.join(OUT, 'features.f32'))
    with open(os.path.join(OUT, 'layers.txt'), 'w') as f:
        f.write('\n'.join(layers) + '\n')

    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print('wrote %d cases to %s (%d bytes in the folder)' % (len(cases), OUT, total))
    if total > MAX_FOLDER_BYTES:
        sys.exit('make_fixtures: fixture folder is %d bytes, over the 2 MB budget' % total)


if __name__ == '__main__':
    main()
