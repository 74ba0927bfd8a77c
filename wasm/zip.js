// zip.js - a small ZIP writer and reader for bundles an app hands to its user: the features
// (one pyspacer `.featurevector` per image) and a whole-project backup. Entries are STORED
// (method 0): feature files are float64 and photos are JPEG, neither of which deflate buys
// much, and stored entries can be read back as slices of the file without a copy (a backup
// of 100 photos of 20 MB must not be held twice in memory). Any unzip tool reads the files;
// the reader takes stored entries only and names what it refuses. Zip64 is not written: a
// bundle over 4 GiB, or of more than 65,535 files, is refused with a message.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ZIP's, IEEE 802.3) of bytes, continuing from `crc` (0 to start). */
export function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const LIMIT = 0xffffffff;
const CHUNK = 1 << 24;   // CRC of a Blob is read 16 MiB at a time

async function crcOf(data) {
  if (!(typeof Blob === 'function' && data instanceof Blob)) return crc32(data);
  let c = 0;
  for (let at = 0; at < data.size; at += CHUNK) {
    c = crc32(new Uint8Array(await data.slice(at, at + CHUNK).arrayBuffer()), c);
  }
  return c;
}

function asData(d) {
  if (typeof d === 'string') return new TextEncoder().encode(d);
  if (typeof Blob === 'function' && d instanceof Blob) return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  throw new TypeError('zip: entry data must be a string, Blob, ArrayBuffer or typed array');
}

// DOS date/time of a JS Date (ZIP's local-time fields; 1980 at the earliest).
function dosTime(date) {
  const y = Math.max(1980, date.getFullYear());
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((y - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/**
 * A ZIP archive of `entries` ([{ name, data }], data a string, Blob or bytes; names are
 * UTF-8 paths with '/' separators), as a Blob (the parts are not copied into one buffer).
 * `date` stamps every entry (default now).
 */
export async function zipFiles(entries, { date = new Date() } = {}) {
  if (entries.length > 0xffff) throw new RangeError(`zip: ${entries.length} files (at most 65,535 without Zip64)`);
  const enc = new TextEncoder();
  const { time, date: day } = dosTime(date);
  const parts = [];
  const central = [];
  const seen = new Set();
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    if (!e.name || e.name.startsWith('/') || e.name.split('/').includes('..')) throw new RangeError(`zip: bad entry name '${e.name}'`);
    if (seen.has(e.name)) throw new RangeError(`zip: '${e.name}' twice`);
    seen.add(e.name);
    const data = asData(e.data);
    const size = data instanceof Uint8Array ? data.length : data.size;
    if (size > LIMIT || offset > LIMIT) throw new RangeError(`zip: '${e.name}' would pass 4 GiB (Zip64 is not written)`);
    const crc = await crcOf(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);          // version needed: 2.0
    local.setUint16(6, 0x0800, true);      // bit 11: names are UTF-8
    local.setUint16(8, 0, true);           // stored
    local.setUint16(10, time, true);
    local.setUint16(12, day, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, size, true);
    local.setUint32(22, size, true);
    local.setUint16(26, name.length, true);
    local.setUint16(28, 0, true);
    parts.push(local.buffer, name, data);
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0800, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, time, true);
    c.setUint16(14, day, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, size, true);
    c.setUint32(24, size, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);         // the other fields (extra, comment, disk, attrs) are 0
    central.push(c.buffer, name);
    offset += 30 + name.length + size;
  }
  const cdSize = central.reduce((s, p) => s + p.byteLength, 0);
  if (offset + cdSize > LIMIT) throw new RangeError('zip: the archive would pass 4 GiB (Zip64 is not written)');
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end.buffer], { type: 'application/zip' });
}

/**
 * The entries of a ZIP archive (Blob or bytes): [{ name, size, crc, data: Blob }], each
 * `data` a slice of the archive. Stored entries only; `verify: true` (default) checks every
 * CRC. Throws a RangeError naming the problem for anything else or a damaged archive.
 */
export async function unzipFiles(archive, { verify = true } = {}) {
  const blob = typeof Blob === 'function' && archive instanceof Blob ? archive : new Blob([asData(archive)]);
  const size = blob.size;
  if (size < 22) throw new RangeError(`unzip: ${size} bytes is too short for a ZIP archive`);
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = new DataView(await blob.slice(size - tailLen).arrayBuffer());
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new RangeError('unzip: no end-of-central-directory record (not a ZIP archive?)');
  const count = tail.getUint16(eocd + 10, true);
  const cdSize = tail.getUint32(eocd + 12, true);
  const cdOffset = tail.getUint32(eocd + 16, true);
  if (cdOffset === LIMIT || count === 0xffff) throw new RangeError('unzip: Zip64 archives are not read');
  if (cdOffset + cdSize > size) throw new RangeError(`unzip: central directory at ${cdOffset} + ${cdSize} passes the end (${size} bytes)`);
  const cd = new DataView(await blob.slice(cdOffset, cdOffset + cdSize).arrayBuffer());
  const dec = new TextDecoder();
  const out = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cdSize || cd.getUint32(at, true) !== 0x02014b50) throw new RangeError(`unzip: central directory entry ${k} is damaged`);
    const method = cd.getUint16(at + 10, true);
    const crc = cd.getUint32(at + 16, true);
    const csize = cd.getUint32(at + 20, true);
    const usize = cd.getUint32(at + 24, true);
    const nlen = cd.getUint16(at + 28, true), xlen = cd.getUint16(at + 30, true), clen = cd.getUint16(at + 32, true);
    const lho = cd.getUint32(at + 42, true);
    const name = dec.decode(new Uint8Array(cd.buffer, at + 46, nlen));
    at += 46 + nlen + xlen + clen;
    if (method !== 0) throw new RangeError(`unzip: '${name}' is compressed (method ${method}); only stored entries are read`);
    if (csize !== usize) throw new RangeError(`unzip: '${name}': stored sizes differ (${csize} vs ${usize})`);
    const lh = new DataView(await blob.slice(lho, lho + 30).arrayBuffer());
    if (lh.byteLength < 30 || lh.getUint32(0, true) !== 0x04034b50) throw new RangeError(`unzip: '${name}': no local header at ${lho}`);
    const start = lho + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (start + csize > size) throw new RangeError(`unzip: '${name}' passes the end of the archive`);
    const data = blob.slice(start, start + csize);
    if (verify && (await crcOf(data)) !== crc) throw new RangeError(`unzip: '${name}': CRC mismatch (damaged archive)`);
    out.push({ name, size: csize, crc, data });
  }
  return out;
}
