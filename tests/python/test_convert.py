"""models/convert.py: every checkpoint layout it accepts, and clear refusals of the rest.

Checkpoints are built here from the PyTorch reference (models/effnet_ref.py) with the seeded
test network's weights, saved in each format, converted, and checked two ways: the tensors
equal the inputs, and a network loaded from the converted file gives the same features as the
original module. torchvision's layout is checked against torchvision's own efficientnet_b0
when torchvision is installed; otherwise only by the name mapping round trip.
Run: /usr/bin/python3 -m unittest discover -s tests/python
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, 'models')
sys.path.insert(0, MODELS)
import convert  # noqa: E402
import effnet_ref  # noqa: E402
import safetensors_io  # noqa: E402
import testnet  # noqa: E402

try:
    import torchvision
except ImportError:  # the mapping round trip below still runs
    torchvision = None

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'effnet')


def write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def sample_input():
    """2 x 3 x 224 x 224: patches of a committed synthetic fixture image (near real-image
    statistics, so the seeded network's features are O(1), not noise-sized or exploding)."""
    img = testnet.load_rgb(os.path.join(FIXTURES, 'synth_300x200.png'))
    return testnet.to_input([testnet.crop(img, 100, 150), testnet.crop(img, 0, 299)])


class ConvertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.model = testnet.build_model()  # lukemelas variant, eval mode
        cls.sd = {k: v.clone() for k, v in cls.model.state_dict().items()}
        cls.x = sample_input()
        with torch.no_grad():
            cls.features = cls.model(cls.x)
        assert cls.features.std() > 1e-2  # a test on near-constant features would prove nothing

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def save(self, obj, name, legacy=False):
        p = self.path(name)
        torch.save(obj, p, _use_new_zipfile_serialization=not legacy)
        return p

    def coralnet_dict(self):
        net = {'module.' + k: v for k, v in self.sd.items()}  # includes num_batches_tracked
        g = torch.Generator().manual_seed(5)
        net['module._fc.weight'] = torch.randn(1275, 1280, generator=g)
        net['module._fc.bias'] = torch.randn(1275, generator=g)
        return {'net': net}

    def convert_ok(self, src, variant='auto'):
        out = self.path('out.safetensors')
        convert.convert(src, out, variant)
        tensors, meta = safetensors_io.read(out)
        self.assertEqual(meta['format'], 'polyp-efficientnet-b0')
        with open(src, 'rb') as f:
            self.assertEqual(meta['source_sha256'], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(list(tensors), list(effnet_ref.canonical_shapes()))
        for name, t in tensors.items():
            self.assertEqual(t.dtype, np.float32, name)
        return tensors, meta

    def assert_same_model(self, tensors, variant='lukemelas', expect=None, atol=1e-6):
        for name, t in tensors.items():
            if variant == 'lukemelas':
                np.testing.assert_array_equal(t, self.sd[name].numpy(), err_msg=name)
        model = effnet_ref.EfficientNetB0(variant)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
        missing = set(model.state_dict()) - set(tensors)
        self.assertTrue(all(k.endswith('num_batches_tracked') for k in missing), missing)
        with torch.no_grad():
            got = model.eval()(self.x)
        expect = self.features if expect is None else expect
        np.testing.assert_allclose(got.numpy(), expect.numpy(), rtol=0, atol=atol)

    # ---- accepted layouts -----------------------------------------------------------------

    def test_coralnet_legacy_and_zip(self):
        for legacy in (True, False):
            with self.subTest(legacy=legacy):
                src = self.save(self.coralnet_dict(), 'coralnet.pt', legacy=legacy)
                if legacy:
                    self.assertFalse(zipfile.is_zipfile(src))
                tensors, meta = self.convert_ok(src)
                self.assertEqual(meta['variant'], 'lukemelas')
                self.assertEqual(meta['source_layout'], 'coralnet')
                self.assertNotIn('_fc.weight', tensors)
                self.assert_same_model(tensors)

    def test_plain_and_wrapped_state_dicts(self):
        plain = {k: v for k, v in self.sd.items()}
        plain['_fc.weight'] = torch.zeros(1000, 1280)
        plain['_fc.bias'] = torch.zeros(1000)
        cases = {'plain': plain, 'state_dict': {'state_dict': plain, 'epoch': 3},
                 'model': {'model': plain}, 'dataparallel': {'module.' + k: v for k, v in plain.items()}}
        for label, obj in cases.items():
            with self.subTest(label):
                tensors, meta = self.convert_ok(self.save(obj, label + '.pt'))
                self.assertEqual(meta['variant'], 'lukemelas')
                self.assertEqual(meta['source_layout'], 'lukemelas')
                self.assert_same_model(tensors)

    def test_half_precision_is_widened(self):
        half = {k: (v.half() if v.is_floating_point() else v) for k, v in self.sd.items()}
        tensors, _ = self.convert_ok(self.save(half, 'half.pt'))
        for k, t in tensors.items():
            np.testing.assert_array_equal(t, half[k].float().numpy(), err_msg=k)

    def test_torchvision_mapping_round_trip(self):
        """Without torchvision: canonical -> torchvision names -> converter -> canonical."""
        names = convert.torchvision_names()
        self.assertEqual(len(set(names.values())), len(names))
        tv = {names[k]: v for k, v in self.sd.items() if k in names}
        tv['classifier.1.weight'] = torch.zeros(1000, 1280)
        tv['classifier.1.bias'] = torch.zeros(1000)
        tensors, meta = self.convert_ok(self.save(tv, 'tv.pt'), variant='torchvision')
        self.assertEqual(meta['variant'], 'torchvision')
        for name, t in tensors.items():
            np.testing.assert_array_equal(t, self.sd[name].numpy(), err_msg=name)
        # Spot-check the mapping of a 6x block and the expand-1 block by hand.
        self.assertEqual(names['_blocks.0._project_conv.weight'], 'features.1.0.block.2.0.weight')
        self.assertEqual(names['_blocks.3._se_expand.bias'], 'features.3.0.block.2.fc2.bias')
        self.assertEqual(names['_blocks.15._bn2.running_var'], 'features.7.0.block.3.1.running_var')

    @unittest.skipIf(torchvision is None, 'torchvision is not installed (python3-torchvision)')
    def test_torchvision_efficientnet_b0(self):
        """A real torchvision efficientnet_b0 with seeded weights converts to a file whose
        'torchvision' variant reproduces torchvision's own pooled features."""
        tvm = torchvision.models.efficientnet_b0()
        names = convert.torchvision_names()
        tv_sd = tvm.state_dict()
        for k, v in self.sd.items():
            if k in names:
                tv_sd[names[k]] = v.clone()
        tvm.load_state_dict(tv_sd)
        tvm.eval()
        with torch.no_grad():
            expect = torch.flatten(tvm.avgpool(tvm.features(self.x)), 1)
        self.assertGreater(float(expect.std()), 1e-2)
        src = self.save(tvm.state_dict(), 'tv_real.pt')
        tensors, meta = self.convert_ok(src)
        self.assertEqual(meta['variant'], 'torchvision')
        # Another implementation (own padding, SiLU): float32 rounding differs by ~1e-5.
        self.assert_same_model(tensors, 'torchvision', expect, atol=1e-4)
        # The lukemelas variant must NOT match: the variant really changes the numerics.
        model = effnet_ref.EfficientNetB0('lukemelas')
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
        with torch.no_grad():
            other = model.eval()(self.x)
        self.assertGreater(float((other - expect).abs().max()), 1e-3)

    def test_cli(self):
        src = self.save(self.coralnet_dict(), 'c.pt', legacy=True)
        out = self.path('cli.safetensors')
        r = subprocess.run([sys.executable, os.path.join(MODELS, 'convert.py'), src, out],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('variant lukemelas', r.stdout)
        self.assert_same_model(safetensors_io.read(out)[0])
        bad = self.path('bad.pt')
        write_bytes(bad, b'definitely not a checkpoint')
        out2 = self.path('never.safetensors')
        r = subprocess.run([sys.executable, os.path.join(MODELS, 'convert.py'), bad, out2],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn('not a PyTorch checkpoint', r.stderr)
        self.assertFalse(os.path.exists(out2))
        self.assertFalse(os.path.exists(out2 + '.tmp'))

    # ---- refusals -------------------------------------------------------------------------

    def refuses(self, src, fragment, variant='auto', **kw):
        out = self.path('refused.safetensors')
        with self.assertRaises(convert.ConvertError) as cm:
            convert.convert(src, out, variant, **kw)
        msg = str(cm.exception)
        self.assertIn(fragment, msg)
        self.assertNotIn('\n', msg)
        self.assertFalse(os.path.exists(out))
        return msg

    def test_not_a_checkpoint(self):
        junk = self.path('junk.pt')
        write_bytes(junk, bytes(range(256)) * 4)
        self.refuses(junk, 'not a PyTorch checkpoint')
        empty = self.path('empty.pt')
        write_bytes(empty, b'')
        self.refuses(empty, 'not a PyTorch checkpoint')
        self.refuses(self.path('absent.pt'), 'no such file')
        full = self.save(self.coralnet_dict(), 'full.pt')
        with open(full, 'rb') as f:
            data = f.read()
        cut = self.path('truncated.pt')
        write_bytes(cut, data[:len(data) // 2])
        self.refuses(cut, 'not a PyTorch checkpoint')
        self.refuses(self.save([1, 2, 3], 'list.pt'), 'top-level object is list')

    def test_unknown_layouts(self):
        self.refuses(self.save({'weights': {'a': 1}, 'epoch': 2}, 'odd.pt'), 'unknown layout')
        other = {'conv1.weight': torch.zeros(64, 3, 7, 7), 'fc.bias': torch.zeros(10)}
        self.refuses(self.save(other, 'resnet.pt'), 'unknown layout')
        self.refuses(self.save({'net': other}, 'resnet_net.pt'), 'unknown layout')

    def test_missing_wrong_shape_dtype_values(self):
        sd = dict(self.sd)
        del sd['_blocks.7._bn1.running_var']
        self.refuses(self.save(sd, 'missing.pt'), 'missing tensor _blocks.7._bn1.running_var')
        sd = dict(self.sd)
        sd['_blocks.4._se_reduce.weight'] = torch.zeros(7, 144, 1, 1)
        self.refuses(self.save(sd, 'shape.pt'), 'wrong shape for _blocks.4._se_reduce.weight')
        sd = dict(self.sd)
        sd['_conv_head.weight'] = torch.zeros(1280, 320, 1, 1, dtype=torch.int32)
        self.refuses(self.save(sd, 'dtype.pt'), 'wrong dtype for _conv_head.weight')
        sd = dict(self.sd)
        w = sd['_bn1.weight'].clone()
        w[3] = float('nan')
        sd['_bn1.weight'] = w
        self.refuses(self.save(sd, 'nan.pt'), '_bn1.weight holds NaN')
        sd = dict(self.sd)
        sd['_blocks.16._depthwise_conv.weight'] = torch.zeros(1152, 1, 3, 3)
        self.refuses(self.save(sd, 'extra.pt'), 'unexpected tensor _blocks.16._depthwise_conv.weight')
        tv = {convert.torchvision_names()[k]: v for k, v in self.sd.items()
              if not k.endswith('num_batches_tracked')}
        del tv['features.5.2.block.2.fc1.bias']
        self.refuses(self.save(tv, 'tvmissing.pt'), 'missing tensor features.5.2.block.2.fc1.bias')

    def test_unwritable_output(self):
        src = self.save(self.coralnet_dict(), 'c.pt')
        with self.assertRaises(convert.ConvertError) as cm:
            convert.convert(src, self.path('no/such/dir/out.safetensors'))
        self.assertIn('cannot write', str(cm.exception))

    def test_variant_mismatch(self):
        src = self.save(self.coralnet_dict(), 'c.pt')
        self.refuses(src, 'lukemelas layout but --variant torchvision', variant='torchvision')

    def test_pickled_objects_need_trust(self):
        obj = self.coralnet_dict()
        obj['args'] = argparse.Namespace(lr=0.1)
        src = self.save(obj, 'with_objects.pt')
        self.refuses(src, '--trust-pickle')
        out = self.path('trusted.safetensors')
        convert.convert(src, out, trust_pickle=True)
        self.assert_same_model(safetensors_io.read(out)[0])


if __name__ == '__main__':
    unittest.main()
