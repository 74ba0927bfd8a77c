#!/usr/bin/python3
"""Independent numpy reference for polyp's TFLite MobileNet extractors.

Written from the TFLite schema (tensorflow/lite/schema/schema.fbs) and TFLite's reference
kernels, sharing no code with core/tflite*.c: a small hand-written flatbuffer walker, then
two forward passes over the graph up to the pooled feature (the last AVERAGE_POOL_2D/MEAN):

  float_features(model, patch)  the float path polyp implements: weights dequantized
      (scale * (q - zero_point)), activations float64, every op's output clamped to its
      fused activation and to the range its uint8 output tensor can hold;
  int_features(model, patch)    TFLite's uint8 semantics exactly (reference_ops Conv,
      DepthwiseConv, Add, AveragePool: int32 accumulators, QuantizeMultiplier and
      MultiplyByQuantizedMultiplier with its rounding), dequantized at the end. Integer
      sums are done in float64 matmuls, which are exact here: every product is at most
      255 * 255 and no sum has more than 2^37 of magnitude (< 2^53).

`patch` is the 224x224x3 uint8 crop (the model's input tensor); logits(model, feat) runs the
v2 classifier head (1x1 CONV_2D after the pool) in float on a pooled feature.

    /usr/bin/python3 models/tflite_ref.py FILE.tflite    prints the graph it read
"""
import struct
import sys

import numpy as np

OPS = {0: "ADD", 1: "AVERAGE_POOL_2D", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE",
       22: "RESHAPE", 25: "SOFTMAX", 40: "MEAN", 114: "QUANTIZE"}
DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


class Flat:
    """Bounds are Python's: a bad offset raises (struct.error / IndexError)."""

    def __init__(self, data):
        self.b = data

    def u8(self, o):
        return self.b[o]

    def u16(self, o):
        return struct.unpack_from("<H", self.b, o)[0]

    def i32(self, o):
        return struct.unpack_from("<i", self.b, o)[0]

    def u32(self, o):
        return struct.unpack_from("<I", self.b, o)[0]

    def table(self, pos):
        vt = pos - self.i32(pos)
        return pos, vt, self.u16(vt)

    def field(self, t, fid):
        pos, vt, vsize = t
        slot = 4 + 2 * fid
        if slot + 2 > vsize:
            return None
        fo = self.u16(vt + slot)
        return pos + fo if fo else None

    def scalar(self, t, fid, fmt, default):
        o = self.field(t, fid)
        return default if o is None else struct.unpack_from("<" + fmt, self.b, o)[0]

    def ref(self, t, fid):
        o = self.field(t, fid)
        return None if o is None else o + self.u32(o)

    def vector(self, t, fid, fmt):
        p = self.ref(t, fid)
        if p is None:
            return []
        n = self.u32(p)
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.b, p + 4))

    def bytes_(self, t, fid):
        p = self.ref(t, fid)
        if p is None:
            return b""
        n = self.u32(p)
        return bytes(self.b[p + 4:p + 4 + n])

    def tables(self, t, fid):
        p = self.ref(t, fid)
        if p is None:
            return []
        n = self.u32(p)
        return [self.table(p + 4 + 4 * i + self.u32(p + 4 + 4 * i)) for i in range(n)]


def load(path):
    """The model as plain dicts: tensors (shape, dtype, name, data, scale, zp) and ops."""
    data = open(path, "rb").read()
    assert data[4:8] == b"TFL3", "not a TFLite file"
    f = Flat(data)
    model = f.table(f.u32(0))
    codes = []
    for oc in f.tables(model, 1):  # OperatorCode: 0 deprecated_builtin_code, 3 builtin_code
        codes.append(max(f.scalar(oc, 0, "b", 0), f.scalar(oc, 3, "i", 0)))
    buffers = [f.bytes_(b, 0) for b in f.tables(model, 4)]
    (sg,) = f.tables(model, 2)
    tensors = []
    for t in f.tables(sg, 0):  # Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization
        q = f.ref(t, 4)
        scale, zp = [], []
        if q is not None:
            qt = f.table(q)
            scale, zp = f.vector(qt, 2, "f"), f.vector(qt, 3, "q")
        shape = f.vector(t, 0, "i")
        dtype = DTYPES[f.scalar(t, 1, "b", 0)]
        raw = buffers[f.scalar(t, 2, "I", 0)]
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape) if raw else None
        tensors.append(dict(shape=shape, dtype=dtype, name=f.bytes_(t, 3).decode(), data=arr,
                            scale=np.array(scale, np.float64), zp=np.array(zp, np.int64)))
    ops = []
    for o in f.tables(sg, 3):  # Operator: 0 opcode_index, 1 inputs, 2 outputs, 4 builtin_options
        code = codes[f.scalar(o, 0, "I", 0)]
        opt = f.ref(o, 4)
        opt = f.table(opt) if opt is not None else None
        op = dict(code=OPS.get(code, code), inputs=f.vector(o, 1, "i"), output=f.vector(o, 2, "i")[0])
        g = (lambda fid, fmt, d: f.scalar(opt, fid, fmt, d) if opt else d)
        if op["code"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"):
            op.update(padding=g(0, "b", 0), stride=(g(2, "i", 1), g(1, "i", 1)))
        if op["code"] == "CONV_2D":
            op.update(act=g(3, "b", 0))
        elif op["code"] == "DEPTHWISE_CONV_2D":
            op.update(mult=g(3, "i", 1), act=g(4, "b", 0))
        elif op["code"] == "AVERAGE_POOL_2D":
            op.update(filter=(g(4, "i", 1), g(3, "i", 1)), act=g(5, "b", 0))
        elif op["code"] == "ADD":
            op.update(act=g(0, "b", 0))
        ops.append(op)
    inp, out = f.vector(sg, 1, "i")[0], f.vector(sg, 2, "i")[0]
    feat_op = max(i for i, o in enumerate(ops) if o["code"] in ("AVERAGE_POOL_2D", "MEAN"))
    return dict(tensors=tensors, ops=ops, input=inp, output=out, feat_op=feat_op)


# ---------------------------------------------------------------- shared geometry

def pads(padding, size, k, stride):
    """TFLite's ComputePaddingHeightWidth: (output size, leading pad)."""
    if padding == 0:  # SAME
        out = (size + stride - 1) // stride
        return out, max((out - 1) * stride + k - size, 0) // 2
    return (size - k) // stride + 1, 0


def windows(x, k, stride, pad_top, pad_left, ho, wo, fill):
    """[ho, wo, k, k, c] windows of x [h, w, c], padded with `fill`."""
    h, w, c = x.shape
    xp = np.full((h + 2 * k + pad_top, w + 2 * k + pad_left, c), fill, x.dtype)
    xp[pad_top:pad_top + h, pad_left:pad_left + w] = x
    out = np.empty((ho, wo, k, k, c), x.dtype)
    for ky in range(k):
        for kx in range(k):
            out[:, :, ky, kx] = xp[ky:ky + stride * ho:stride, kx:kx + stride * wo:stride]
    return out


def act_range(act, t, real):
    """Output clamp: fused activation intersected with the uint8 tensor's range, in real
    units (real=True) or in quantized units."""
    s, z = t["scale"][0], t["zp"][0]
    lo, hi = 0, 255
    if act in (1, 3):  # RELU, RELU6
        lo = max(lo, z + int(round(0 / s)))
    if act == 3:
        hi = min(hi, z + int(round(6 / s)))
    if real:
        flo, fhi = s * (0 - z), s * (255 - z)
        if act in (1, 3):
            flo = max(flo, 0.0)
        if act == 3:
            fhi = min(fhi, 6.0)
        return flo, fhi
    return lo, hi


def deq(t):
    """Dequantized constant (per tensor or per channel on the quantized dimension)."""
    d = t["data"].astype(np.float64)
    if t["dtype"] == np.float32:
        return d
    s, z = t["scale"], t["zp"].astype(np.float64)
    if len(s) > 1:
        axis = 0 if d.shape[0] == len(s) else d.ndim - 1
        shape = [1] * d.ndim
        shape[axis] = len(s)
        s, z = s.reshape(shape), z.reshape(shape)
    return s * (d - z)


# ---------------------------------------------------------------- float path

def conv_float(op, x, w, b, dw):
    k, stride = w.shape[1], op["stride"][0]
    ho, pt = pads(op["padding"], x.shape[0], k, stride)
    wo, pl = pads(op["padding"], x.shape[1], k, stride)
    win = windows(x, k, stride, pt, pl, ho, wo, 0.0)
    if dw:  # w [1, k, k, c]
        return np.einsum("yxabc,abc->yxc", win, w[0]) + b
    co = w.shape[0]
    return (win.reshape(ho * wo, -1) @ w.reshape(co, -1).T).reshape(ho, wo, co) + b


def float_features(model, patch):
    T = model["tensors"]
    tin = T[model["input"]]
    vals = {model["input"]: tin["scale"][0] * (patch.astype(np.float64) - tin["zp"][0])}
    for op in model["ops"][:model["feat_op"] + 1]:
        code, ins, t_out = op["code"], op["inputs"], T[op["output"]]
        x = vals.get(ins[0])
        if code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            b = deq(T[ins[2]]) if len(ins) > 2 and ins[2] >= 0 else 0.0
            y = conv_float(op, x, deq(T[ins[1]]), b, code == "DEPTHWISE_CONV_2D")
        elif code == "ADD":
            y = x + vals[ins[1]]
        elif code in ("AVERAGE_POOL_2D", "MEAN"):
            y = x.mean(axis=(0, 1)).reshape(1, 1, -1)
        elif code in ("RESHAPE", "QUANTIZE", "DEQUANTIZE"):
            vals[op["output"]] = x
            continue
        else:
            raise ValueError("op %s before the feature" % code)
        lo, hi = act_range(op.get("act", 0), t_out, True) if t_out["dtype"] == np.uint8 else (-np.inf, np.inf)
        vals[op["output"]] = np.clip(y, lo, hi)
    return vals[model["ops"][model["feat_op"]]["output"]].reshape(-1)


def logits(model, feat):
    """v2's classifier: the CONV_2D reading the pooled feature, in float."""
    T = model["tensors"]
    fout = model["ops"][model["feat_op"]]["output"]
    for op in model["ops"][model["feat_op"] + 1:]:
        if op["code"] == "CONV_2D" and op["inputs"][0] == fout:
            w = deq(T[op["inputs"][1]])
            return w.reshape(w.shape[0], -1) @ feat + deq(T[op["inputs"][2]])
    return None


# ---------------------------------------------------------------- TFLite uint8 semantics

def quantize_multiplier(m):
    """QuantizeMultiplier: m = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if m == 0:
        return 0, 0
    frac, shift = np.frexp(m)
    q = int(round(frac * (1 << 31)))
    if q == 1 << 31:
        q //= 2
        shift += 1
    return q, int(shift)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul on int64 arrays of int32 values (C division:
    truncating toward zero)."""
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    return np.where(s >= 0, s >> 31, -((-s) >> 31))


def rdbpot(x, e):
    """RoundingDivideByPOT."""
    if e == 0:
        return x
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def mbqm(x, q, shift):
    """MultiplyByQuantizedMultiplier."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(x * (1 << left), q), right)


def conv_int(op, xq, T, ins, dw):
    tx, tw, tb, ty = T[ins[0]], T[ins[1]], T[ins[2]], T[op["output"]]
    w = tw["data"].astype(np.float64) - tw["zp"][0]
    x = xq.astype(np.float64) - tx["zp"][0]
    k, stride = w.shape[1], op["stride"][0]
    ho, pt = pads(op["padding"], x.shape[0], k, stride)
    wo, pl = pads(op["padding"], x.shape[1], k, stride)
    win = windows(x, k, stride, pt, pl, ho, wo, 0.0)  # pad = the zero point, i.e. 0 after the shift
    if dw:
        acc = np.einsum("yxabc,abc->yxc", win, w[0])
    else:
        acc = (win.reshape(ho * wo, -1) @ w.reshape(w.shape[0], -1).T).reshape(ho, wo, -1)
    acc = np.rint(acc).astype(np.int64) + tb["data"].astype(np.int64)
    q, shift = quantize_multiplier(tx["scale"][0] * tw["scale"][0] / ty["scale"][0])
    lo, hi = act_range(op["act"], ty, False)
    return np.clip(mbqm(acc, q, shift) + ty["zp"][0], lo, hi)


def add_int(op, aq, bq, T):
    ta, tb, ty = T[op["inputs"][0]], T[op["inputs"][1]], T[op["output"]]
    left = 20
    twice = 2 * max(ta["scale"][0], tb["scale"][0])
    qa, sa = quantize_multiplier(ta["scale"][0] / twice)
    qb, sb = quantize_multiplier(tb["scale"][0] / twice)
    qo, so = quantize_multiplier(twice / ((1 << left) * ty["scale"][0]))
    a = mbqm((aq.astype(np.int64) - ta["zp"][0]) * (1 << left), qa, sa)
    b = mbqm((bq.astype(np.int64) - tb["zp"][0]) * (1 << left), qb, sb)
    lo, hi = act_range(op["act"], ty, False)
    return np.clip(mbqm(a + b, qo, so) + ty["zp"][0], lo, hi)


def int_features(model, patch, last=None):
    """TFLite's pooled feature, dequantized; with `last` (an op index), the quantized output
    of that op instead (v2's classifier logits: the CONV_2D after the pool)."""
    T = model["tensors"]
    vals = {model["input"]: patch.astype(np.int64)}
    stop = model["feat_op"] if last is None else last
    for op in model["ops"][:stop + 1]:
        code, ins = op["code"], op["inputs"]
        x = vals.get(ins[0])
        if code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            y = conv_int(op, x, T, ins, code == "DEPTHWISE_CONV_2D")
        elif code == "ADD":
            y = add_int(op, x, vals[ins[1]], T)
        elif code == "AVERAGE_POOL_2D":
            n = x.shape[0] * x.shape[1]
            lo, hi = act_range(op["act"], T[op["output"]], False)
            y = np.clip((x.sum(axis=(0, 1)) + n // 2) // n, lo, hi).reshape(1, 1, -1)
        elif code == "RESHAPE":
            vals[op["output"]] = x
            continue
        else:
            raise ValueError("op %s is not in the integer reference" % code)
        vals[op["output"]] = y
    if last is not None:
        return vals[model["ops"][last]["output"]].reshape(-1)
    t = T[model["ops"][model["feat_op"]]["output"]]
    q = vals[model["ops"][model["feat_op"]]["output"]].reshape(-1)
    return t["scale"][0] * (q - t["zp"][0])


if __name__ == "__main__":
    m = load(sys.argv[1])
    for i, t in enumerate(m["tensors"]):
        print("t%d %s %s %s scale=%s zp=%s" % (i, t["dtype"].__name__, t["shape"], t["name"][:60],
                                              t["scale"][:1], t["zp"][:1]))
    for i, op in enumerate(m["ops"]):
        print("op%d %s" % (i, op))
    print("feature: output of op%d" % m["feat_op"])
