"""Writes hand-made PyTorch checkpoints of every layout polyp reads, in both torch.save
formats, from the seeded test network's tensors (real EfficientNet-B0 shapes), plus
checkpoints polyp must refuse. Made at test time with Debian's python3-torch; nothing is
committed.

Used by tests/e2e/test_checkpoints_cli.py (cases()); by hand, writes them all (~0.5 GB):
  /usr/bin/python3 tests/e2e/make_checkpoints.py TESTNET.safetensors OUTDIR
printing `ok NAME DETAIL` or `bad NAME WORD` per file (see cases()).
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'models'))
import convert  # noqa: E402  (torchvision name mapping)
import effnet_ref  # noqa: E402
import safetensors_io  # noqa: E402


def canonical(testnet_path):
    tensors, _ = safetensors_io.read(testnet_path)
    return collections.OrderedDict((k, torch.from_numpy(v.copy())) for k, v in tensors.items())


def module_state_dict(sd):
    """What nn.Module.state_dict() returns: an OrderedDict with _metadata and
    num_batches_tracked, as CoralNet's and lukemelas' files hold."""
    model = effnet_ref.EfficientNetB0('lukemelas')
    model.load_state_dict(sd, strict=False)
    return model.state_dict()


class Evil:
    """A pickle that would run a shell command (never executed by polyp)."""
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def cases(testnet_path, scratch):
    """Yields (file name, 'ok' or 'bad', detail, write(path)) one at a time, so a test can
    write, check and delete each (every file is 16-35 MB). detail: for 'ok', 'exact' when the
    features must equal the test network's own (same float32 tensors and variant) or the
    variant otherwise; for 'bad', a word the refusal must contain. `scratch` is a folder for
    the evil pickles' would-be side effects."""
    sd = canonical(testnet_path)
    msd = module_state_dict(sd)
    g = torch.Generator().manual_seed(5)
    fc = [('_fc.weight', torch.randn(1275, 1280, generator=g)), ('_fc.bias', torch.randn(1275, generator=g))]

    def saver(obj, legacy):
        return lambda path: torch.save(obj, path, _use_new_zipfile_serialization=not legacy)

    def both(name, obj, detail, legacy_too=True):
        for legacy in ((False, True) if legacy_too else (False,)):
            yield name + ('_legacy' if legacy else '_zip') + '.pth', 'ok', detail, saver(obj, legacy)

    # CoralNet: {'net': state_dict} with DataParallel's module. prefix and its 1275-way head.
    net = collections.OrderedDict(('module.' + k, v) for k, v in list(msd.items()) + fc)
    yield from both('coralnet', {'net': net}, 'exact')
    plain = collections.OrderedDict(list(msd.items()) + fc)
    plain._metadata = msd._metadata
    yield from both('lukemelas', plain, 'exact')
    yield from both('wrapped_state_dict', {'state_dict': plain, 'epoch': 3, 'arch': 'b0'}, 'exact',
                    legacy_too=False)
    yield from both('wrapped_model', {'model': msd}, 'exact', legacy_too=False)
    yield from both('wrapped_model_state_dict', {'model_state_dict': msd, 'milestones': [30, 60], 'note': None}, 'exact',
                    legacy_too=False)
    # torchvision's names (the canonical tensors mapped as models/convert.py maps them).
    names = convert.torchvision_names()
    tv = collections.OrderedDict((names[k], v) for k, v in sd.items())
    tv['classifier.1.weight'] = torch.zeros(1000, 1280)
    tv['classifier.1.bias'] = torch.zeros(1000)
    yield from both('torchvision', tv, 'torchvision')
    # Storage variety: half (rounded, so other features) and double precision, non-contiguous
    # views, every tensor a view into one shared storage.
    yield from both('half', collections.OrderedDict((k, v.half()) for k, v in sd.items()), 'lukemelas',
                    legacy_too=False)
    yield from both('double', collections.OrderedDict((k, v.double()) for k, v in sd.items()), 'exact')
    strided = collections.OrderedDict()
    for k, v in sd.items():
        strided[k] = v.t().contiguous().t() if v.dim() == 2 else (
            v.permute(3, 2, 1, 0).contiguous().permute(3, 2, 1, 0) if v.dim() == 4 else v)
    yield from both('strided', strided, 'exact', legacy_too=False)
    flat = torch.cat([v.reshape(-1) for v in sd.values()])
    shared, pos = collections.OrderedDict(), 0
    for k, v in sd.items():
        shared[k] = flat[pos:pos + v.numel()].view(v.shape)
        pos += v.numel()
    yield from both('shared_storage', shared, 'exact')

    # ---- refusals ------------------------------------------------------------------------
    def bad(fname, obj, word, legacy=False):
        return fname, 'bad', word, saver(obj, legacy)

    def raw(fname, data, word):
        def write(path):
            with open(path, 'wb') as f:
                f.write(data)
        return fname, 'bad', word, write

    pwned = os.path.join(scratch, 'pwned')
    yield bad('evil_os_system.pth', {'net': msd, 'x': Evil(os.system, 'touch ' + pwned)}, 'system')
    yield bad('evil_eval_legacy.pth', {'x': Evil(eval, 'open(%r, "w")' % pwned), 'state_dict': msd}, 'eval',
              legacy=True)
    yield bad('evil_counter.pth', collections.Counter(a=1), 'collections.Counter')
    yield bad('evil_reduce_other.pth', {'a': Evil(collections.namedtuple, 'P')}, 'collections.namedtuple')
    # STACK_GLOBAL of another module, hand-written protocol 4: subprocess.Popen(('id',))
    evil4 = b'\x80\x04\x8c\nsubprocess\x94\x8c\x05Popen\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.'
    yield raw('evil_stack_global.pth', zip_with_pickle(evil4), 'subprocess.Popen')
    newobj = pickle.dumps(collections.OrderedDict(a=1), 2).replace(b'R', b'\x81', 1)
    yield raw('evil_newobj.pth', zip_with_pickle(newobj), 'NEWOBJ')
    wrong_dtype = collections.OrderedDict(sd)
    wrong_dtype['_blocks.3._se_reduce.bias'] = torch.zeros(6, dtype=torch.int64)
    yield bad('wrong_dtype.pth', wrong_dtype, 'int64')
    wrong_shape = collections.OrderedDict(sd)
    wrong_shape['_conv_head.weight'] = torch.zeros(1280, 320, 1, 2)
    yield bad('wrong_shape_legacy.pth', wrong_shape, '_conv_head.weight', legacy=True)
    missing = collections.OrderedDict(sd)
    del missing['_blocks.7._bn1.running_var']
    yield bad('missing.pth', missing, '_blocks.7._bn1.running_var')
    extra = collections.OrderedDict(sd)
    extra['_blocks.16._depthwise_conv.weight'] = torch.zeros(3)
    yield bad('extra_tensor.pth', extra, '_blocks.16._depthwise_conv.weight')
    yield bad('not_a_dict.pth', [1, 2, 3], 'list')
    yield bad('no_state_dict.pth', {'epoch': 3, 'optimizer': {}}, 'unknown layout')
    nan = collections.OrderedDict(sd)
    nan['_bn0.weight'] = nan['_bn0.weight'].clone()
    nan['_bn0.weight'][3] = float('nan')
    yield bad('nan.pth', nan, 'non-finite')
    # Truncated and damaged copies of a good file in each format.
    small = collections.OrderedDict(sd)
    for legacy in (False, True):
        buf = io.BytesIO()
        torch.save({'net': small}, buf, _use_new_zipfile_serialization=not legacy)
        good = buf.getvalue()
        kind = 'legacy' if legacy else 'zip'
        yield raw('truncated_%s.pth' % kind, good[:len(good) // 2], 'truncated' if legacy else 'zip')
        yield raw('truncated_%s_end.pth' % kind, good[:-1], 'truncated' if legacy else 'zip')
        if legacy:
            yield raw('truncated_legacy_pickle.pth', good[:300], 'truncated')
            # A storage whose element count disagrees with its tensor's.
            short = bytearray(good)
            idx = short.rfind(struct.pack('<q', 1280 * 320))
            short[idx:idx + 8] = struct.pack('<q', 1280 * 320 - 1)
            yield raw('short_storage_legacy.pth', bytes(short), 'storage')
        else:
            flipped = bytearray(good)
            flipped[len(flipped) // 2] ^= 0x40
            yield raw('crc_zip.pth', bytes(flipped), 'CRC')


def zip_with_pickle(pkl_bytes):
    """A torch-style zip checkpoint whose data.pkl is exactly pkl_bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pkl_bytes)
        z.writestr('archive/version', '3\n')
    return buf.getvalue()


def main():
    testnet_path, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for fname, kind, detail, write in cases(testnet_path, out):
        write(os.path.join(out, fname))
        print(kind, fname, detail)


if __name__ == '__main__':
    main()
