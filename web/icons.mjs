// icons.mjs - the app's PNG icons (192 and 512 px, what an installable app needs), drawn at
// build time so no binary is committed: a white polyp (ring and eight tentacle dots) on the
// theme colour, safe for maskable cropping (everything within the central 80%).
import { deflateSync } from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function iconPng(size) {
  const raw = Buffer.alloc(size * (size * 3 + 1));
  const c = size / 2;
  const bg = [11, 79, 108];
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - c, dy = y + 0.5 - c;
      const r = Math.hypot(dx, dy) / size;
      let white = r > 0.14 && r < 0.2;                      // the mouth ring
      for (let k = 0; k < 8 && !white; k++) {                // tentacle tips
        const a = (k * Math.PI) / 4;
        white = Math.hypot(dx - Math.cos(a) * size * 0.3, dy - Math.sin(a) * size * 0.3) < size * 0.05;
      }
      const o = y * (size * 3 + 1) + 1 + x * 3;
      const px = white ? [255, 255, 255] : bg;
      raw[o] = px[0]; raw[o + 1] = px[1]; raw[o + 2] = px[2];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
