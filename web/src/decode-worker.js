// decode-worker.js - decodes a photo off the main thread into what the viewer draws: one
// decode of the file, then a preview scaled from it (longest side <= previewMax) and
// full-resolution tiles (tile x tile px ImageBitmaps, so no canvas ever holds a 27 MP image).
// Once, not twice: a reduced decode straight from the file (what this did before) took
// longer in Chromium than the full decode plus a scaled copy (tests/bench/web/decodes.mjs),
// and the tiles then needed a second full decode. When the browser cannot decode a file
// (some truncated JPEGs), the page sends the engine's RGB pixels instead (`rgb`).
//   in:  {id, blob, previewMax, tile} | {id, rgb, width, height, previewMax, tile}
//   out: {id, type: 'size'|'preview'|'tile'|'done'|'error', ...}

async function sourceBitmap(msg) {
  if (msg.rgb) {
    const { rgb, width, height } = msg;
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgba[j] = rgb[i]; rgba[j + 1] = rgb[i + 1]; rgba[j + 2] = rgb[i + 2]; rgba[j + 3] = 255;
    }
    return createImageBitmap(new ImageData(rgba, width, height));
  }
  // Pixel coordinates must be the engine's: the stored pixels, EXIF orientation not applied.
  return createImageBitmap(msg.blob, { imageOrientation: 'none' });
}

self.onmessage = async (e) => {
  const msg = e.data;
  const { id, previewMax = 2048, tile = 2048 } = msg;
  const post = (m, t = []) => self.postMessage({ id, ...m }, t);
  try {
    const t0 = performance.now();
    const full = await sourceBitmap(msg);
    const W = full.width, H = full.height;
    post({ type: 'size', width: W, height: H });
    const s = Math.min(1, previewMax / Math.max(W, H));
    const p = await createImageBitmap(full, { resizeWidth: Math.max(1, Math.round(W * s)), resizeHeight: Math.max(1, Math.round(H * s)), resizeQuality: 'medium' });
    post({ type: 'preview', bitmap: p, ms: performance.now() - t0 }, [p]);
    for (let y = 0; y < H; y += tile) {
      for (let x = 0; x < W; x += tile) {
        const b = await createImageBitmap(full, x, y, Math.min(tile, W - x), Math.min(tile, H - y));
        post({ type: 'tile', x, y, bitmap: b }, [b]);
      }
    }
    full.close();
    post({ type: 'done', ms: performance.now() - t0 });
  } catch (err) {
    post({ type: 'error', message: String(err && err.message || err) });
  }
};
