"""models/testnet.py and the committed effnet fixtures stay consistent with the reference.

- prng.txt (what the C generator is tested against) equals both the vectorised numpy PRNG and
  a scalar pure-Python evaluation of the spec;
- the committed BN statistics are what one calibration pass over the real patches produces
  (needs ../shared/testdata; skipped without it);
- features.f32 equals what the PyTorch reference computes now for the fixture-image cases;
- the numpy crop equals an index-by-index reflection written from DESIGN.md's words.
"""
import csv
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'models'))
import effnet_ref  # noqa: E402
import safetensors_io  # noqa: E402
import testnet  # noqa: E402

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'effnet')


def reflect_index(i, n):
    """numpy 'reflect' for one coordinate: mirror about the edge pixel, without repeating it,
    as often as needed (period 2n-2)."""
    if n == 1:
        return 0
    p = 2 * n - 2
    i %= p
    return i if i < n else p - i


class PrngTest(unittest.TestCase):
    def test_fixture_lines_match_numpy_and_scalar(self):
        shapes = effnet_ref.canonical_shapes()
        with open(os.path.join(FIXTURES, 'prng.txt')) as f:
            lines = [l.split() for l in f if l.strip()]
        self.assertGreaterEqual(len(lines), 20)
        for name, index, hexbits in lines:
            index = int(index)
            vec = testnet.prng_tensor(name, shapes[name]).reshape(-1)[index]
            scalar = np.float32(testnet.prng_value_scalar(name, shapes[name], index))
            self.assertEqual('%08x' % int(vec.view(np.uint32)), hexbits, (name, index))
            self.assertEqual('%08x' % int(scalar.view(np.uint32)), hexbits, (name, index))

    def test_uniform_properties(self):
        v = testnet.prng_uniform('_conv_head.weight', 409600)
        self.assertEqual(v.dtype, np.float32)
        self.assertTrue((v >= -1).all() and (v < 1).all())
        self.assertLess(abs(float(v.mean())), 0.01)
        self.assertAlmostEqual(float(v.var()), 1 / 3, delta=0.01)
        # Exact multiples of 2^-23, as the spec's int24 construction gives.
        self.assertTrue(np.array_equal(v * np.float32(8388608), np.rint(v * np.float32(8388608))))
        other = testnet.prng_uniform('_conv_head.weight', 16, seed=testnet.DEFAULT_SEED + 1)
        self.assertFalse(np.array_equal(v[:16], other))
        self.assertEqual(testnet.fnv1a64(''), 0xcbf29ce484222325)
        self.assertEqual(testnet.fnv1a64('a'), 0xaf63dc4c8601ec8c)  # published FNV-1a test vector


class BnStatsTest(unittest.TestCase):
    def test_file_holds_exactly_the_bn_statistics(self):
        stats, meta = safetensors_io.read(testnet.BNSTATS)
        self.assertEqual(meta, {'format': 'polyp-testnet-bnstats', 'seed': str(testnet.DEFAULT_SEED)})
        want = {k: s for k, s in effnet_ref.canonical_shapes().items()
                if k.endswith('running_mean') or k.endswith('running_var')}
        self.assertEqual(set(stats), set(want))
        for k, t in stats.items():
            self.assertEqual(t.shape, want[k], k)
            self.assertEqual(t.dtype, np.float32, k)
            if k.endswith('running_var'):
                self.assertTrue((t > 0).all(), k)

    @unittest.skipUnless(os.path.isdir(testnet.TESTDATA), 'needs ../shared/testdata')
    def test_recalibration_reproduces_the_committed_file(self):
        torch.set_num_threads(1)
        committed, _ = safetensors_io.read(testnet.BNSTATS)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'stats.safetensors')
            testnet.calibrate(path=path)
            fresh, _ = safetensors_io.read(path)
        for k, t in committed.items():
            np.testing.assert_allclose(fresh[k], t, rtol=1e-4, atol=1e-6, err_msg=k)


class FixtureTest(unittest.TestCase):
    def test_crop_matches_index_reflection(self):
        rng = np.random.default_rng(0)
        for h, w in ((1, 1), (2, 3), (23, 37), (5, 300)):
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            for row, col in ((0, 0), (h - 1, w - 1), (h // 2, w // 3)):
                rows = [reflect_index(row - 112 + i, h) for i in range(224)]
                cols = [reflect_index(col - 112 + j, w) for j in range(224)]
                expect = img[np.ix_(rows, cols)]
                np.testing.assert_array_equal(testnet.crop(img, row, col), expect)
                self.assertTrue(np.array_equal(testnet.crop(img, row, col)[112, 112], img[row, col]))
        with self.assertRaises(ValueError):
            testnet.crop(np.zeros((4, 4, 3), np.uint8), 4, 0)

    def test_features_match_the_reference(self):
        torch.set_num_threads(1)
        with open(os.path.join(FIXTURES, 'cases.csv'), newline='') as f:
            cases = list(csv.DictReader(f))
        feats = np.fromfile(os.path.join(FIXTURES, 'features.f32'), '<f4').reshape(len(cases), 1280)
        self.assertGreater(float(feats.std(axis=0).mean()), 1e-2)  # not near-constant
        picks = [i for i, c in enumerate(cases) if c['source'] == 'fixtures'][::4]
        if os.path.isdir(testnet.TESTDATA):
            picks += [i for i, c in enumerate(cases) if c['source'] == 'testdata'][::4]
        patches = []
        for i in picks:
            c = cases[i]
            base = FIXTURES if c['source'] == 'fixtures' else testnet.TESTDATA
            img = testnet.load_rgb(os.path.join(base, c['image']))
            patches.append(testnet.crop(img, int(c['row']), int(c['col'])))
        with torch.no_grad():
            got = testnet.build_model()(testnet.to_input(patches)).numpy()
        np.testing.assert_allclose(got, feats[picks], rtol=0, atol=1e-5)


if __name__ == '__main__':
    unittest.main()
