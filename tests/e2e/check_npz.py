#!/usr/bin/python3
"""Checks that feature files written by polyp_features_write_npz load in numpy exactly.

usage: check_npz.py PATH/TO/npz_write_sample

For several shapes (pyspacer-style and legacy): runs the C writer, then with numpy:
- numpy.load reads meta, rows, cols, feat with the dtypes and shapes pyspacer writes
  (meta int64 [valid, n, d]; rows/cols uint16, or empty float64 for legacy; feat float64);
- every value equals the one computed here independently (see npz_write_sample.c);
- each .npy member is byte-identical to numpy.lib.format.write_array of the same array;
- pyspacer's own loading logic (ImageFeatures.load) accepts the file;
- with an extractor record (polyp extract's fifth member), numpy.load (allow_pickle=False)
  reads it back as the same 0-d unicode string, byte-identical to numpy's own .npy, and the
  four pyspacer members are unchanged.
Exits 77 (ctest: skipped) when numpy is not importable.
"""
import io
import os
import subprocess
import sys
import tempfile
import zipfile

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy not available", file=sys.stderr)
    sys.exit(77)


def expected(valid, n, d):
    i = np.arange(n, dtype=np.int64)[:, None]
    j = np.arange(d, dtype=np.int64)[None, :]
    feat = (((i * 131 + j * 7) % 1000).astype(np.float32) / np.float32(8) - np.float32(60)).astype(np.float32)
    special = np.array([-0.0, 0.1, np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-40], dtype=np.float32)
    if n > 0:
        k = min(5, d)
        feat[0, :k] = special[:k]
    feat = feat.astype(np.float64)
    if valid:
        rows = ((np.arange(n) * 2477) % 65536).astype(np.uint16)
        cols = (65535 - np.arange(n)).astype(np.uint16)
    else:
        rows = np.array([])
        cols = np.array([])
    meta = np.array([bool(valid), n, d])
    return dict(meta=meta, rows=rows, cols=cols, feat=feat)


def npy_bytes(arr):
    b = io.BytesIO()
    np.lib.format.write_array(b, np.asanyarray(arr), allow_pickle=False)
    return b.getvalue()


def pyspacer_load(path):
    """The reading half of pyspacer's ImageFeatures.load, minus its classes."""
    data = np.load(path)
    valid_rowcol = data["meta"][0]
    if valid_rowcol:
        points = [(int(r), int(c), f) for r, c, f in zip(data["rows"], data["cols"], data["feat"])]
        assert len(points) == data["meta"][1]
        assert len(points[0][2]) == data["meta"][2]
        return points
    return data["feat"].tolist()


def check(writer, tmp, valid, n, d, record=None):
    path = os.path.join(tmp, "f_%d_%d_%d_%d.npz" % (valid, n, d, record is not None))
    subprocess.run([writer, path, str(valid), str(n), str(d)] + ([record] if record else []), check=True)
    want = expected(valid, n, d)
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(["cols", "feat", "meta", "rows"] + (["extractor"] if record else [])), z.files
        if record:
            got = z["extractor"]
            assert got.dtype.kind == "U" and got.shape == (), (got.dtype, got.shape)
            assert str(got) == record, (str(got), record)
        for key, w in want.items():
            got = z[key]
            assert got.dtype == w.dtype, (key, got.dtype, w.dtype)
            assert got.shape == w.shape, (key, got.shape, w.shape)
            # Exact, bit for bit (also tells -0.0 from 0.0).
            assert got.tobytes() == w.tobytes(), key
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        for key, w in want.items():
            assert zf.read(key + ".npy") == npy_bytes(w), key + ".npy differs from numpy's bytes"
        if record:
            assert zf.read("extractor.npy") == npy_bytes(np.array(record)), "extractor.npy differs from numpy's"
    if n > 0:
        pyspacer_load(path)
    print("ok: valid_rowcol=%d npoints=%d dim=%d%s" % (valid, n, d, " with extractor record" if record else ""))


def main():
    writer = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for valid, n, d in [(1, 1, 1280), (1, 25, 1280), (1, 1000, 8), (0, 3, 1280), (1, 2, 3), (1, 0, 1280)]:
            check(writer, tmp, valid, n, d)
        rec = "efficientnet_b0:" + "0123456789abcdef" * 4 + ":1280 variant=lukemelas"
        for valid, n, d in [(1, 25, 1280), (0, 3, 1280), (1, 0, 8)]:
            check(writer, tmp, valid, n, d, rec)
        check(writer, tmp, 1, 2, 3, "x")


if __name__ == "__main__":
    main()
