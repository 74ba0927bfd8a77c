"""Converts an EfficientNet-B0 PyTorch checkpoint to polyp's canonical safetensors file.

Understood inputs (torch.save files, legacy or zip; loaded on the CPU):
- CoralNet's checkpoint (e.g. efficientnet_b0_ver1.pt): {'net': state_dict} with a `module.`
  prefix (DataParallel) on every name;
- a lukemelas EfficientNet-PyTorch state_dict, bare or under 'state_dict' / 'model' /
  'model_state_dict' (a `module.` prefix is stripped);
- torchvision's efficientnet_b0 state_dict (`features.*` names), written as variant
  `torchvision` (symmetric padding, BN eps 1e-5) with canonical tensor names.
The classifier (`_fc.*` / `classifier.*`) and `num_batches_tracked` are dropped. Every expected
tensor is checked for presence, shape, dtype and finiteness; anything else is refused with a
one-line reason.

By default only tensors, dicts and plain values are unpickled (torch.load weights_only);
--trust-pickle allows arbitrary pickled objects, for files from a source you trust.

Usage: python3 models/convert.py IN.pt OUT.safetensors [--variant auto|lukemelas|torchvision]
"""
import argparse
import collections.abc
import hashlib
import os
import pickle
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import effnet_ref  # noqa: E402
import safetensors_io  # noqa: E402

FORMAT = 'polyp-efficientnet-b0'
CONTAINER_KEYS = ('net', 'state_dict', 'model', 'model_state_dict')
BN_FIELDS = ('weight', 'bias', 'running_mean', 'running_var')


class ConvertError(Exception):
    """A checkpoint polyp does not understand; the message is one line naming the problem."""


def torchvision_names():
    """canonical name -> torchvision efficientnet_b0 state_dict name."""
    m = {'_conv_stem.weight': 'features.0.0.weight', '_conv_head.weight': 'features.8.0.weight'}
    for f in BN_FIELDS:
        m['_bn0.' + f] = 'features.0.1.' + f
        m['_bn1.' + f] = 'features.8.1.' + f
    n = 0
    for stage, (_k, _s, expand, _cin, _cout, reps) in enumerate(effnet_ref.STAGES, start=1):
        for j in range(reps):
            src = 'features.%d.%d.block.' % (stage, j)
            dst = '_blocks.%d.' % n
            # torchvision's block is a Sequential: [expand,] depthwise, SE, project.
            seq = 0
            if expand != 1:
                m[dst + '_expand_conv.weight'] = src + '0.0.weight'
                for f in BN_FIELDS:
                    m[dst + '_bn0.' + f] = src + '0.1.' + f
                seq = 1
            m[dst + '_depthwise_conv.weight'] = src + '%d.0.weight' % seq
            for f in BN_FIELDS:
                m[dst + '_bn1.' + f] = src + '%d.1.%s' % (seq, f)
            for a, b in (('_se_reduce', 'fc1'), ('_se_expand', 'fc2')):
                for p in ('weight', 'bias'):
                    m['%s%s.%s' % (dst, a, p)] = '%s%d.%s.%s' % (src, seq + 1, b, p)
            m[dst + '_project_conv.weight'] = src + '%d.0.weight' % (seq + 2)
            for f in BN_FIELDS:
                m[dst + '_bn2.' + f] = src + '%d.1.%s' % (seq + 2, f)
            n += 1
    return m


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def load_checkpoint(path, trust_pickle=False):
    if not os.path.isfile(path):
        raise ConvertError('%s: no such file' % path)
    try:
        return torch.load(path, map_location='cpu', weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        # weights_only refusals read "... WeightsUnpickler error: Unsupported class X" for
        # real pickled objects, "... Unsupported operand N" for bytes that are no pickle.
        detail = str(e).strip().split('WeightsUnpickler error:')[-1].strip()
        detail = (detail.splitlines() or [type(e).__name__])[0]
        if not trust_pickle and ('Unsupported class' in detail or 'global' in detail.lower()):
            raise ConvertError('%s: holds pickled Python objects other than tensors and dicts '
                               '(%s); rerun with --trust-pickle only if you trust its source'
                               % (path, detail[:120]))
        raise ConvertError('%s: not a PyTorch checkpoint (%s)' % (path, detail[:200]))
    except Exception as e:  # torch.load raises many types (RuntimeError, EOFError, ...)
        line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConvertError('%s: not a PyTorch checkpoint (%s)' % (path, line[:200]))


def is_tensor_dict(obj):
    return (isinstance(obj, collections.abc.Mapping) and len(obj) > 0
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def find_state_dict(obj, path):
    """-> (state_dict, container) where container names where it was found."""
    if not isinstance(obj, collections.abc.Mapping):
        raise ConvertError('%s: not a checkpoint (top-level object is %s, expected a dict)'
                           % (path, type(obj).__name__))
    if is_tensor_dict(obj):
        return obj, 'state_dict'
    for key in CONTAINER_KEYS:
        if key in obj and is_tensor_dict(obj[key]):
            return obj[key], key
    keys = ', '.join(sorted(str(k) for k in obj)[:6])
    raise ConvertError('%s: unknown layout (a dict with keys %s; expected a state_dict or one '
                       'under %s)' % (path, keys or 'none', '/'.join(CONTAINER_KEYS)))


def strip_prefix(sd):
    """Removes a DataParallel `module.` prefix when every name carries it."""
    if sd and all(k.startswith('module.') for k in sd):
        return {k[len('module.'):]: v for k, v in sd.items()}, True
    return dict(sd), False


def detect_layout(sd, path):
    if '_conv_stem.weight' in sd:
        return 'lukemelas'
    if 'features.0.0.weight' in sd:
        return 'torchvision'
    first = ', '.join(sorted(sd)[:3])
    raise ConvertError('%s: unknown layout (tensor names like %s are neither lukemelas '
                       '(_conv_stem.weight) nor torchvision (features.0.0.weight))' % (path, first))


def ignorable(name, layout):
    if name.endswith('num_batches_tracked'):
        return True
    head = '_fc.' if layout == 'lukemelas' else 'classifier.'
    return name.startswith(head)


def canonicalise(sd, layout, path):
    """-> dict canonical name -> float32 numpy array, validated."""
    shapes = effnet_ref.canonical_shapes()
    names = ({k: k for k in shapes} if layout == 'lukemelas' else torchvision_names())
    expected_src = set(names.values())
    for k in sd:
        if k not in expected_src and not ignorable(k, layout):
            raise ConvertError('%s: unexpected tensor %s for a %s EfficientNet-B0 (another '
                               'model or size?)' % (path, k, layout))
    out = {}
    for name, shape in shapes.items():
        src = names[name]
        if src not in sd:
            raise ConvertError('%s: missing tensor %s' % (path, src))
        t = sd[src]
        if tuple(t.shape) != shape:
            raise ConvertError('%s: wrong shape for %s: %s, expected %s'
                               % (path, src, list(t.shape), list(shape)))
        if not t.is_floating_point():
            raise ConvertError('%s: wrong dtype for %s: %s, expected a float tensor'
                               % (path, src, str(t.dtype).replace('torch.', '')))
        a = t.detach().to(torch.float32).contiguous().numpy().copy()
        if not np.isfinite(a).all():
            raise ConvertError('%s: tensor %s holds NaN or infinite values' % (path, src))
        if name.endswith('running_var') and (a < 0).any():
            raise ConvertError('%s: tensor %s holds negative variances' % (path, src))
        out[name] = a
    return out


def convert(in_path, out_path, variant='auto', trust_pickle=False):
    """Converts; returns (layout, container). Raises ConvertError with a one-line reason."""
    if variant not in ('auto', 'lukemelas', 'torchvision'):
        raise ConvertError('unknown --variant %s (auto, lukemelas or torchvision)' % variant)
    obj = load_checkpoint(in_path, trust_pickle)
    sd, container = find_state_dict(obj, in_path)
    sd, _ = strip_prefix(sd)
    layout = detect_layout(sd, in_path)
    if variant != 'auto' and variant != layout:
        raise ConvertError('%s: tensor names are the %s layout but --variant %s was given'
                           % (in_path, layout, variant))
    tensors = canonicalise(sd, layout, in_path)
    meta = {'format': FORMAT, 'variant': layout, 'source_sha256': sha256_file(in_path),
            'source_layout': 'coralnet' if container == 'net' else layout}
    data = safetensors_io.dumps(tensors, meta)
    tmp = out_path + '.tmp'
    try:
        with open(tmp, 'wb') as f:  # write then rename: no half-written output on failure
            f.write(data)
        os.replace(tmp, out_path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ConvertError('%s: cannot write (%s)' % (out_path, e.strerror or e))
    return layout, container


def main(argv=None):
    ap = argparse.ArgumentParser(description='Convert an EfficientNet-B0 PyTorch checkpoint '
                                             'to polyp\'s canonical safetensors file.')
    ap.add_argument('input', help='checkpoint (.pt/.pth): CoralNet, lukemelas or torchvision')
    ap.add_argument('output', help='output .safetensors file')
    ap.add_argument('--variant', default='auto', choices=('auto', 'lukemelas', 'torchvision'),
                    help='expected layout (default: detect from the tensor names)')
    ap.add_argument('--trust-pickle', action='store_true',
                    help='allow arbitrary pickled objects (runs code from the file!)')
    args = ap.parse_args(argv)
    try:
        layout, container = convert(args.input, args.output, args.variant, args.trust_pickle)
    except ConvertError as e:
        print('convert: %s' % e, file=sys.stderr)
        return 1
    print('wrote %s (variant %s, from %s)' % (args.output, layout,
                                             'CoralNet checkpoint' if container == 'net'
                                             else container))
    return 0


if __name__ == '__main__':
    sys.exit(main())
