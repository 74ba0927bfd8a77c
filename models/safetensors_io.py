"""Minimal safetensors reader/writer (F32 only needs here; a few more dtypes for reading).

File layout: u64 little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the raw little-endian tensor bytes (offsets relative to the end of the header).
"""
import json
import struct

import numpy as np

DTYPES = {'F32': np.dtype('<f4'), 'F64': np.dtype('<f8'), 'F16': np.dtype('<f2'),
          'I64': np.dtype('<i8'), 'I32': np.dtype('<i4'), 'U8': np.dtype('u1')}
NAMES = {v: k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


def dumps(tensors, metadata=None):
    """tensors: dict name -> numpy array (written in dict order). Returns the file's bytes."""
    header = {}
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = arr.dtype.newbyteorder('<') if arr.dtype.byteorder == '>' else arr.dtype
        if np.dtype(dt).str not in {d.str for d in DTYPES.values()}:
            raise ValueError('%s: unsupported dtype %s' % (name, arr.dtype))
        kind = NAMES[np.dtype(np.dtype(dt).str)]
        data = arr.astype(DTYPES[kind], copy=False).tobytes()
        header[name] = {'dtype': kind, 'shape': list(arr.shape),
                        'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # keep the data 8-byte aligned, as the reference writer does
    return struct.pack('<Q', len(text)) + text + b''.join(blobs)


def write(path, tensors, metadata=None):
    with open(path, 'wb') as f:
        f.write(dumps(tensors, metadata))


def loads(buf):
    """Returns (dict name -> numpy array (copies), metadata dict). Raises ValueError if bad."""
    if len(buf) < 8:
        raise ValueError('safetensors: file shorter than its 8-byte header length')
    (n,) = struct.unpack('<Q', buf[:8])
    if n > MAX_HEADER or 8 + n > len(buf):
        raise ValueError('safetensors: header length %d exceeds the file' % n)
    header = json.loads(buf[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {}) or {}
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        dt = DTYPES.get(info['dtype'])
        if dt is None:
            raise ValueError('safetensors: %s has unsupported dtype %s' % (name, info['dtype']))
        begin, end = info['data_offsets']
        count = int(np.prod(info['shape'], dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dt.itemsize:
            raise ValueError('safetensors: %s has bad data offsets' % name)
        out[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info['shape']).copy()
    return out, meta


def read(path):
    with open(path, 'rb') as f:
        return loads(f.read())
