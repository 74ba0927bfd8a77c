#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds into tests/fuzz/seeds/<parser>/ (committed; rerun after a
format change: /usr/bin/python3 tests/fuzz/make_seeds.py). Each folder holds a few valid files
that reach deep into the parser and a few that fail at a chosen check; the fuzzer mutates from
there. Nothing here comes from ../shared/testdata.

Other seeds the targets replay (tests/fuzz/CMakeLists.txt): tests/fixtures/images/synthetic,
tests/fixtures/images/band, tests/fixtures/npz and models/testnet-bnstats.safetensors.
"""
import json
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'models'))

import numpy as np  # noqa: E402
import safetensors_io  # noqa: E402

SEEDS = os.path.join(HERE, 'seeds')


def put(parser, name, data):
    folder = os.path.join(SEEDS, parser)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)


# ------------------------------------------------------------------------------------ JSON
def json_seeds():
    put('json', 'object.json', '{"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "": 0}')
    put('json', 'escapes.json', r'["\u00e9\ud83d\ude00\n\t\"\\\/", "\u0000x", "caf\u00e9"]')
    put('json', 'numbers.json', '[0, -0, 1e308, 2.2250738585072014e-308, 9007199254740993, '
                                '-9223372036854775808, 18446744073709551616, 0.1e-2]')
    put('json', 'deep.json', '[' * 16 + ']' * 16)
    put('json', 'too_deep.json', '[' * 17 + ']' * 17)
    put('json', 'dup_keys.json', '{"k": 1, "k": 2}')
    put('json', 'utf8.json', '"\u65e5\u672c\u8a9e \U0001f41f"')
    put('json', 'bad_trailing_comma.json', '[1, 2,]')
    put('json', 'bad_leading_zero.json', '[01]')
    put('json', 'bad_lone_surrogate.json', r'"\ud800"')
    put('json', 'safetensors_header.json', json.dumps({
        '__metadata__': {'format': 'pt'},
        'w': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [0, 24]}}))


# ------------------------------------------------------------------------------------ CSV
def csv_seeds():
    put('csv', 'basic.csv', 'Name,Row,Column,Label code\nimg1.jpg,10,20,Porit\nimg1.jpg,0,0,CCA\n'
                            'img2.jpg,4000,3000,Sand\n')
    put('csv', 'legacy_label.csv', 'Name,Row,Column,Label\na.png,1,2,X\n')
    put('csv', 'bom_crlf_case.csv', '\ufeff name , ROW,column ,label code\r\nb.jpg,5,6,Y\r\n')
    put('csv', 'quoted.csv', 'Name,Row,Column,Label code,Notes\n"a, b.jpg",1,2,"x ""y""","multi\nline"\n')
    put('csv', 'no_label.csv', 'Name,Row,Column\nc.jpg,7,8\nc.jpg,9,10\n')
    put('csv', 'empty_label.csv', 'Name,Row,Column,Label code\nd.jpg,1,1,\n')
    put('csv', 'any_order.csv', 'Label code,Column,Name,Row,Extra\nL,3,e.jpg,4,zz\n')
    put('csv', 'bad_row.csv', 'Name,Row,Column,Label code\nf.jpg,-1,2,Z\n')
    put('csv', 'bad_missing_column.csv', 'Name,Row\ng.jpg,1\n')
    put('csv', 'bad_unterminated_quote.csv', 'Name,Row,Column\n"h.jpg,1,2\n')
    put('csv', 'header_only.csv', 'Name,Row,Column,Label code\n')


# ------------------------------------------------------------------------------------ weights
def weights_seeds():
    st = safetensors_io.dumps
    f32 = np.float32
    # What the weights loader looks for first: the stem conv, then its batch norm.
    stem = {'_conv_stem.weight': np.linspace(-1, 1, 32 * 3 * 3 * 3, dtype=f32).reshape(32, 3, 3, 3)}
    bn = {'_bn0.weight': np.ones(32, f32), '_bn0.bias': np.zeros(32, f32),
          '_bn0.running_mean': np.zeros(32, f32), '_bn0.running_var': np.ones(32, f32)}
    put('weights', 'stem_only.safetensors', st(stem, {'format': 'pt'}))
    put('weights', 'stem_bn.safetensors', st({**stem, **bn}, {'format': 'pt'}))
    put('weights', 'torchvision_variant.safetensors', st({**stem, **bn}, {'variant': 'torchvision'}))
    put('weights', 'unknown_variant.safetensors', st(stem, {'variant': 'keras'}))
    put('weights', 'wrong_shape.safetensors',
        st({'_conv_stem.weight': np.zeros((32, 3, 3), f32)}, {'format': 'pt'}))
    put('weights', 'wrong_dtype.safetensors',
        st({'_conv_stem.weight': np.zeros((32, 3, 3, 3), np.float64)}))
    put('weights', 'empty_header.safetensors', struct.pack('<Q', 2) + b'{}')
    header = json.dumps({'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]},
                         'b': {'dtype': 'F32', 'shape': [2], 'data_offsets': [4, 12]}}).encode()
    put('weights', 'overlap.safetensors', struct.pack('<Q', len(header)) + header + bytes(12))
    put('weights', 'header_too_long.safetensors', struct.pack('<Q', 1 << 40) + b'{}')
    put('weights', 'truncated.safetensors', st({**stem, **bn})[:300])


# ------------------------------------------------------------------------------------ classifier
def model(kind, labels, hidden, dim, seed, output=None, extra_meta=None, drop=None):
    """A classifier model file as core/model_io.c documents it (sklearn coefs_ layout)."""
    rng = np.random.default_rng(seed)
    n_out = 1 if len(labels) == 2 else len(labels)
    sizes = [dim] + list(hidden) + [n_out]
    tensors = {}
    for layer in range(len(sizes) - 1):
        tensors['layers.%d.weight' % layer] = rng.standard_normal((sizes[layer], sizes[layer + 1])).astype(np.float32)
        tensors['layers.%d.bias' % layer] = rng.standard_normal(sizes[layer + 1]).astype(np.float32)
    tensors['calibration.a'] = -np.abs(rng.standard_normal(n_out)).astype(np.float64) - 0.5
    tensors['calibration.b'] = rng.standard_normal(n_out).astype(np.float64)
    if output is None:
        output = 'margin' if kind == 'lr' else ('logistic' if n_out == 1 else 'softmax')
    meta = {'format': 'polyp-classifier', 'format_version': '1', 'kind': kind, 'output': output,
            'labels': json.dumps(labels), 'hidden': json.dumps(list(hidden)), 'feature_dim': str(dim),
            'extractor': 'unknown', 'learning_rate': '0.001', 'ref_accuracy': '[0.5,0.625,0.75]',
            'val_accuracy': '0.7'}
    meta.update(extra_meta or {})
    for key in drop or ():
        tensors.pop(key, None)
        meta.pop(key, None)
    return safetensors_io.dumps(tensors, meta)


def classifier_seeds():
    put('classifier', 'lr_3class.safetensors', model('lr', ['CCA', 'Porit', 'Sand'], [], 4, 1))
    put('classifier', 'lr_2class.safetensors', model('lr', ['a', 'b'], [], 3, 2))
    put('classifier', 'mlp_2class.safetensors', model('mlp', ['a', 'b'], [5], 4, 3))
    put('classifier', 'mlp_softmax_2hidden.safetensors', model('mlp', ['x', 'y', 'z'], [6, 3], 5, 4))
    put('classifier', 'mlp_sha_extractor.safetensors',
        model('mlp', ['a', 'b', 'c'], [2], 2, 5, extra_meta={'extractor': 'ab' * 32}))
    put('classifier', 'bad_unsorted_labels.safetensors', model('lr', ['b', 'a', 'c'], [], 2, 6))
    put('classifier', 'bad_output.safetensors', model('mlp', ['a', 'b', 'c'], [2], 2, 7, output='logistic'))
    put('classifier', 'bad_missing_calibration.safetensors',
        model('lr', ['a', 'b', 'c'], [], 2, 8, drop=['calibration.b']))
    # Regression (fuzzing): metadata asking for a 1048576 x 1000 layer that the file does not
    # hold made the loader allocate 4 GB before it checked the tensor shapes.
    put('classifier', 'bad_huge_dims.safetensors',
        model('mlp', ['a', 'b', 'c'], [5], 4, 3, extra_meta={'feature_dim': '1048576', 'hidden': '[1000]'}))
    # Found by fuzzing: a 17-digit value the JSON parser reads 1 ulp off (fuzz_classifier.c).
    put('classifier', 'ref_accuracy_17_digits.safetensors',
        model('lr', ['a', 'b', 'c'], [], 4, 10, extra_meta={'ref_accuracy': '[0.71999999999999997]'}))
    put('classifier', 'bad_version.safetensors',
        model('lr', ['a', 'b'], [], 2, 9, extra_meta={'format_version': '2'}))


# ------------------------------------------------------------------------------------ npz
def npz_seeds():
    """Feature files as numpy itself writes them (pyspacer's layout: meta, rows, cols, feat)."""
    import io
    rng = np.random.default_rng(11)
    feat = rng.standard_normal((3, 5)).astype(np.float32)
    rows, cols = np.array([0, 10, 65535]), np.array([7, 0, 3])

    def savez(name, compressed, **arrays):
        buf = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buf, **arrays)
        put('npz', name, buf.getvalue())
    savez('stored.npz', False, meta=np.array([1, 3, 5]), rows=rows, cols=cols, feat=feat)
    savez('compressed.npz', True, meta=np.array([1, 3, 5]), rows=rows, cols=cols, feat=feat)
    savez('legacy_f8.npz', True, meta=np.array([0, 3, 5]), rows=np.array([]), cols=np.array([]),
          feat=feat.astype(np.float64))
    savez('empty.npz', False, meta=np.array([0, 0, 1280]), rows=np.array([]), cols=np.array([]),
          feat=np.array([]))
    savez('bad_meta.npz', False, meta=np.array([2, 3, 5]), feat=feat)


# ------------------------------------------------------------------------------------ images
def png(width, height, empty_idat_first=False, empty_idat_between=False, no_data=False, overlong=False):
    """An 8-bit RGB PNG, stored (uncompressed) deflate, gray levels (40 x + 3 y) mod 256 in
    every channel (tests/unit/test_png_idat.c checks them), optionally with zero-length IDAT
    chunks (legal PNG: the image data is all IDATs concatenated), with no image data, or with
    an IDAT whose length field claims 1.5 GB (stb would grow its buffer to 2 GB)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    raw = b''.join(b'\0' + bytes((x * 40 + y * 3) & 255 for x in range(width) for _ in range(3))
                   for y in range(height))
    z = zlib.compress(raw, 0)
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
    if empty_idat_first:
        out += chunk(b'IDAT', b'')
    if no_data:
        return out + chunk(b'IEND', b'')
    half = len(z) // 2
    out += chunk(b'IDAT', z[:half])
    if empty_idat_between:
        out += chunk(b'IDAT', b'')
    last = chunk(b'IDAT', z[half:])
    if overlong:
        last = struct.pack('>I', 0x60000000) + last[4:]
    return out + last + chunk(b'IEND', b'')


def image_seeds():
    # The stb_image UB regression (issue 8): a 7x6 PNG whose first IDAT chunk is empty made
    # stb call memcpy(NULL, ..., 0); polyp must decode it (or refuse it) without a UBSan report.
    put('image', 'png_idat0_7x6.png', png(7, 6, empty_idat_first=True))
    put('image', 'png_idat0_between_7x6.png', png(7, 6, empty_idat_between=True))
    put('image', 'png_plain_7x6.png', png(7, 6))
    # Found by fuzzing: stb allocated an IDAT's declared 2 GB before finding the data missing.
    put('image', 'png_overlong_idat_7x6.png', png(7, 6, overlong=True))
    put('image', 'png_only_empty_idat_7x6.png', png(7, 6, empty_idat_first=True, no_data=True))
    # Found by fuzzing (the band oracle): a truncated TGA that stb decoded "successfully" with
    # pixels it never wrote (now calloc'd: black, as Pillow gives; tests/unit/test_image.c).
    put('image', 'tga_unwritten_pixels_261x36.tga', bytes.fromhex(
        '000002000000000000000000050124001800df8d49cb9154dbb059ff2d5846494c4500534f4e2d5846494c456e00'))


def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    json_seeds()
    csv_seeds()
    weights_seeds()
    classifier_seeds()
    npz_seeds()
    image_seeds()
    for parser in sorted(os.listdir(SEEDS)):
        print('%s: %d seeds' % (parser, len(os.listdir(os.path.join(SEEDS, parser)))))


if __name__ == '__main__':
    main()
