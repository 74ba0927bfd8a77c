// safetensors.js - reads a safetensors file (F32 tensors only) into { name: { shape, data } }.
// Classic script and ES-module friendly: defines globalThis.readSafetensors. No DOM, no node.
// Layout: 8-byte little-endian header length, JSON header { name: { dtype, shape,
// data_offsets: [begin, end] } } (offsets relative to the end of the header), raw data.
(function (g) {
  g.readSafetensors = function readSafetensors(buffer) {
    const bytes = new Uint8Array(buffer);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hlen = Number(dv.getBigUint64(0, true));
    if (hlen > bytes.byteLength - 8) throw new Error('safetensors: header longer than the file');
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
    const base = 8 + hlen;
    const out = {};
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (t.dtype !== 'F32') throw new Error(`safetensors: ${name} is ${t.dtype}, expected F32`);
      const [b, e] = t.data_offsets;
      // Copy: the data section need not be 4-byte aligned.
      const data = new Float32Array(bytes.slice(base + b, base + e).buffer);
      const count = t.shape.reduce((a, x) => a * x, 1);
      if (data.length !== count) throw new Error(`safetensors: ${name} has ${data.length} values for shape ${t.shape}`);
      out[name] = { shape: t.shape, data };
    }
    return out;
  };
})(globalThis);
