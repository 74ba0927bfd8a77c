// viewer.js - the photo viewer of the annotation tool, plain code (no framework on the hot
// path): two stacked canvases as CoralNet has them (the image; the point layer), drawn from a
// preview and full-resolution tiles decoded in decode-worker.js, so a 27 MP photo never sits
// in one canvas. Zoom (wheel, pinch, keys, click-to-zoom), drag-pan, a minimap,
// brightness/contrast, CoralNet's marker shapes, colours and display modes.
//
//   const v = new Viewer(element, { onSelect(i, {additive}), onAdd(row, col), onMove(i, row, col) });
//   await v.open(blob, { width, height, rgb });   // resolves at first paint
//   v.setPoints(points, selectedSet); v.zoomBy(2); v.centerOn(i); v.destroy();

/** CoralNet's annotation tool defaults (AnnotationToolSettings). */
export const MARKER_DEFAULTS = {
  marker: 'crosshair',            // 'crosshair' | 'circle' | 'crosshair and circle' | 'box'
  markerSize: 16,
  numberSize: 24,
  colors: { unannotated: '#FFFF00', unconfirmed: '#FFFF00', confirmed: '#8888FF', selected: '#00FF00' },
  display: 'all',                 // 'all' | 'selected' | 'none'
  numbers: true,
};

const MIN_SCALE_FACTOR = 0.5;     // of the fit scale
const MAX_SCALE = 16;             // screen px per image px
const HIT_RADIUS = 22;            // px: a 44 px target around each marker

export class Viewer {
  constructor(root, { onSelect = () => {}, onAdd = () => {}, onMove = () => {}, onView = () => {}, label = 'Photo' } = {}) {
    this.root = root;
    this.cb = { onSelect, onAdd, onMove, onView };
    root.classList.add('viewer');
    this.imageCanvas = document.createElement('canvas');
    this.pointCanvas = document.createElement('canvas');
    this.imageCanvas.className = 'layer image';
    this.pointCanvas.className = 'layer points';
    this.imageCanvas.setAttribute('aria-hidden', 'true');
    this.pointCanvas.setAttribute('role', 'img');
    this.pointCanvas.setAttribute('aria-label', label);
    this.pointCanvas.tabIndex = -1;
    this.minimap = document.createElement('canvas');
    this.minimap.className = 'minimap';
    this.minimap.setAttribute('role', 'img');
    this.minimap.setAttribute('aria-label', 'Minimap: the whole photo with the part in view outlined');
    root.append(this.imageCanvas, this.pointCanvas, this.minimap);

    this.width = 0; this.height = 0;
    this.preview = null; this.tiles = []; this.tileSize = 2048; this.complete = false;
    this.scale = 1; this.cx = 0; this.cy = 0;
    this.points = []; this.selected = new Set();
    this.settings = structuredClone(MARKER_DEFAULTS);
    this.adjust = { brightness: 100, contrast: 100 };
    this.mode = 'select';          // 'select' | 'zoom' | 'add' | 'move'
    this.frameTimes = [];          // ms per drawn frame (the benchmark reads them)
    this.timings = {};
    this.pending = false;
    this.pointers = new Map();
    this.decodeId = 0;

    this.resizeObserver = new ResizeObserver(() => this._resize());
    this.resizeObserver.observe(root);
    this._bind();
    this._resize();
  }

  // ------------------------------------------------------------------ loading
  /** Decodes in the worker; resolves once the preview is painted. `rgb` (engine pixels) is
   * used instead of the browser's decoder when given (truncated files). */
  open(blob, { width, height, rgb = null } = {}) {
    this._dropImage();
    this.width = width; this.height = height;
    this.fit();
    const id = ++this.decodeId;
    if (!this.worker) this.worker = new Worker(new URL('./decode-worker.js', import.meta.url), { type: 'module' });
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      let painted = false;
      this.worker.onmessage = (e) => {
        const m = e.data;
        if (m.id !== this.decodeId) { if (m.bitmap) m.bitmap.close(); return; }
        if (m.type === 'preview') {
          this.preview = m.bitmap;
          this._schedule();
          requestAnimationFrame(() => {
            this.timings.firstPaintAt = performance.now();
            this.timings.firstPaint = this.timings.firstPaintAt - t0;
            if (!painted) { painted = true; resolve(); }
          });
        } else if (m.type === 'size') {
          if (m.width !== this.width || m.height !== this.height) { this.width = m.width; this.height = m.height; this.fit(); }
        } else if (m.type === 'tile') {
          this.tiles.push({ x: m.x, y: m.y, bitmap: m.bitmap });
          this._schedule();
        } else if (m.type === 'done') {
          this.complete = true;
          this.timings.fullResolutionAt = performance.now();
          this.timings.fullResolution = this.timings.fullResolutionAt - t0;
          this._schedule();
          this.root.dispatchEvent(new CustomEvent('viewer-complete'));
        } else if (m.type === 'error') {
          if (!painted) { painted = true; reject(new Error(`cannot show the photo: ${m.message}`)); }
        }
      };
      const msg = rgb ? { id, rgb, width, height, tile: this.tileSize } : { id, blob, width, height, tile: this.tileSize };
      this.worker.postMessage(msg, rgb ? [rgb.buffer] : []);
    });
  }

  _dropImage() {
    if (this.preview) this.preview.close();
    for (const t of this.tiles) t.bitmap.close();
    this.preview = null; this.tiles = []; this.complete = false; this.timings = {};
  }

  destroy() {
    this._dropImage();
    this.decodeId++;
    if (this.worker) this.worker.terminate();
    this.resizeObserver.disconnect();
    this.root.replaceChildren();
  }

  // ------------------------------------------------------------------ view
  get fitScale() {
    if (!this.width || !this.vw) return 1;
    return Math.min(this.vw / this.width, this.vh / this.height);
  }

  fit() {
    this.scale = this.fitScale;
    this.cx = this.width / 2; this.cy = this.height / 2;
    this._schedule();
  }

  /** Zooms by `factor` keeping the image point under (sx, sy) (screen px, default centre) still. */
  zoomBy(factor, sx = this.vw / 2, sy = this.vh / 2) {
    const s = Math.max(this.fitScale * MIN_SCALE_FACTOR, Math.min(MAX_SCALE, this.scale * factor));
    const [ix, iy] = this.toImage(sx, sy);
    this.scale = s;
    this.cx = ix - (sx - this.vw / 2) / s;
    this.cy = iy - (sy - this.vh / 2) / s;
    this._clamp();
    this._schedule();
  }

  panBy(dx, dy) {
    this.cx -= dx / this.scale; this.cy -= dy / this.scale;
    this._clamp();
    this._schedule();
  }

  /** Pans so point i is in view (centred when it was outside the middle 80%). */
  centerOn(i) {
    const p = this.points[i];
    if (!p) return;
    const [sx, sy] = this.toScreen(p.col + 0.5, p.row + 0.5);
    if (sx < this.vw * 0.1 || sx > this.vw * 0.9 || sy < this.vh * 0.1 || sy > this.vh * 0.9) {
      this.cx = p.col + 0.5; this.cy = p.row + 0.5;
      this._clamp();
      this._schedule();
    }
  }

  /** Keeps the photo covering the view where it is larger than the view, centred otherwise. */
  _clamp() {
    const hw = this.vw / 2 / this.scale, hh = this.vh / 2 / this.scale;
    this.cx = this.width <= 2 * hw ? this.width / 2 : Math.max(hw, Math.min(this.width - hw, this.cx));
    this.cy = this.height <= 2 * hh ? this.height / 2 : Math.max(hh, Math.min(this.height - hh, this.cy));
  }

  toScreen(ix, iy) { return [(ix - this.cx) * this.scale + this.vw / 2, (iy - this.cy) * this.scale + this.vh / 2]; }
  toImage(sx, sy) { return [(sx - this.vw / 2) / this.scale + this.cx, (sy - this.vh / 2) / this.scale + this.cy]; }

  // ------------------------------------------------------------------ content
  setPoints(points, selected = this.selected) {
    this.points = points;
    this.selected = new Set(selected);
    this._schedule();
  }

  setSettings(patch) { Object.assign(this.settings, patch); this._schedule(); }
  setAdjust(patch) { Object.assign(this.adjust, patch); this._schedule(); }
  setMode(mode) { this.mode = mode; this.pointCanvas.dataset.mode = mode; }

  // ------------------------------------------------------------------ drawing
  _resize() {
    const r = this.root.getBoundingClientRect();
    const first = !this.vw;
    this.vw = Math.max(1, r.width); this.vh = Math.max(1, r.height);
    this.dpr = window.devicePixelRatio || 1;
    for (const c of [this.imageCanvas, this.pointCanvas]) {
      c.width = Math.round(this.vw * this.dpr); c.height = Math.round(this.vh * this.dpr);
    }
    if (first && this.width) this.fit();
    this._schedule();
  }

  _schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const t0 = performance.now();
      this._drawImage();
      this._drawPoints();
      this._drawMinimap();
      this.frameTimes.push(performance.now() - t0);
      if (this.frameTimes.length > 600) this.frameTimes.splice(0, 300);
      this.cb.onView(this);
    });
  }

  _drawImage() {
    const ctx = this.imageCanvas.getContext('2d');
    const d = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#1b2a30';
    ctx.fillRect(0, 0, this.imageCanvas.width, this.imageCanvas.height);
    if (!this.preview) return;
    const s = this.scale * d;
    ctx.setTransform(s, 0, 0, s, d * (this.vw / 2 - this.cx * this.scale), d * (this.vh / 2 - this.cy * this.scale));
    ctx.filter = this.adjust.brightness !== 100 || this.adjust.contrast !== 100
      ? `brightness(${this.adjust.brightness}%) contrast(${this.adjust.contrast}%)` : 'none';
    ctx.imageSmoothingEnabled = this.scale < 2;
    ctx.imageSmoothingQuality = 'medium';
    ctx.drawImage(this.preview, 0, 0, this.width, this.height);
    // Full-resolution tiles once zoomed past the preview's resolution, only those in view.
    if (s > (this.preview.width / this.width) * 1.01) {
      const [x0, y0] = this.toImage(0, 0);
      const [x1, y1] = this.toImage(this.vw, this.vh);
      for (const t of this.tiles) {
        if (t.x > x1 || t.y > y1 || t.x + t.bitmap.width < x0 || t.y + t.bitmap.height < y0) continue;
        ctx.drawImage(t.bitmap, t.x, t.y);
      }
    }
    ctx.filter = 'none';
  }

  _colorOf(p, i) {
    const c = this.settings.colors;
    if (this.selected.has(i)) return c.selected;
    return c[p.state] || c.unannotated;
  }

  _drawPoints() {
    const ctx = this.pointCanvas.getContext('2d');
    const d = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.pointCanvas.width, this.pointCanvas.height);
    const { display, marker, markerSize, numberSize, numbers } = this.settings;
    if (display === 'none' || !this.width) return;
    ctx.setTransform(d, 0, 0, d, 0, 0);
    const r = markerSize / 2;
    ctx.lineWidth = 2;
    ctx.font = `bold ${numberSize}px system-ui, sans-serif`;
    ctx.textBaseline = 'middle';
    this.points.forEach((p, i) => {
      if (display === 'selected' && !this.selected.has(i)) return;
      const [x, y] = this.toScreen(p.col + 0.5, p.row + 0.5);
      if (x < -50 || y < -50 || x > this.vw + 50 || y > this.vh + 50) return;
      const color = this._colorOf(p, i);
      // A dark outline under every shape keeps markers visible on bright sand.
      for (const [stroke, w] of [['rgba(0,0,0,.75)', 4], [color, 2]]) {
        ctx.strokeStyle = stroke; ctx.lineWidth = w;
        ctx.beginPath();
        if (marker === 'crosshair' || marker === 'crosshair and circle') {
          ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); ctx.moveTo(x, y - r); ctx.lineTo(x, y + r);
        }
        if (marker === 'circle' || marker === 'crosshair and circle') { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, Math.PI * 2); }
        if (marker === 'box') ctx.rect(x - r, y - r, 2 * r, 2 * r);
        ctx.stroke();
      }
      if (numbers) {
        const text = String(i + 1);
        ctx.lineWidth = 4; ctx.strokeStyle = 'rgba(0,0,0,.8)';
        ctx.strokeText(text, x + r + 3, y);
        ctx.fillStyle = color;
        ctx.fillText(text, x + r + 3, y);
      }
    });
  }

  _drawMinimap() {
    const m = this.minimap;
    if (!this.preview || !this.width) { m.hidden = true; return; }
    m.hidden = false;
    const w = 160, h = Math.max(1, Math.round((160 * this.height) / this.width));
    const d = this.dpr;
    if (m.width !== w * d || m.height !== h * d) { m.width = w * d; m.height = h * d; m.style.width = `${w}px`; m.style.height = `${h}px`; }
    const ctx = m.getContext('2d');
    ctx.setTransform(d, 0, 0, d, 0, 0);
    ctx.drawImage(this.preview, 0, 0, w, h);
    const [x0, y0] = this.toImage(0, 0);
    const [x1, y1] = this.toImage(this.vw, this.vh);
    const k = w / this.width;
    ctx.strokeStyle = '#00FF00'; ctx.lineWidth = 2;
    ctx.strokeRect(Math.max(0, x0 * k), Math.max(0, y0 * k), Math.min(w, (x1 - x0) * k), Math.min(h, (y1 - y0) * k));
  }

  // ------------------------------------------------------------------ input
  /** Index of the point nearest (sx, sy) within the touch radius, or -1. */
  hit(sx, sy) {
    let best = -1, bd = HIT_RADIUS * HIT_RADIUS;
    this.points.forEach((p, i) => {
      const [x, y] = this.toScreen(p.col + 0.5, p.row + 0.5);
      const dd = (x - sx) ** 2 + (y - sy) ** 2;
      if (dd <= bd) { bd = dd; best = i; }
    });
    return best;
  }

  _local(e) {
    const r = this.pointCanvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  _bind() {
    const c = this.pointCanvas;
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [sx, sy] = this._local(e);
      this.zoomBy(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.002)), sx, sy);
    }, { passive: false });
    c.addEventListener('pointerdown', (e) => {
      c.setPointerCapture(e.pointerId);
      const [sx, sy] = this._local(e);
      this.pointers.set(e.pointerId, { sx, sy, x0: sx, y0: sy, moved: false });
      if (this.pointers.size === 2) this.pinch = this._pinchState();
      if (this.mode === 'move' && this.pointers.size === 1) {
        const i = this.hit(sx, sy);
        this.dragPoint = i >= 0 && this.selected.has(i) ? i : -1;
      }
    });
    c.addEventListener('pointermove', (e) => {
      const p = this.pointers.get(e.pointerId);
      if (!p) return;
      const [sx, sy] = this._local(e);
      if (Math.hypot(sx - p.x0, sy - p.y0) > 5) p.moved = true;
      if (this.pointers.size === 2 && this.pinch) {
        p.sx = sx; p.sy = sy;
        const now = this._pinchState();
        this.zoomBy(now.dist / this.pinch.dist, now.mx, now.my);
        this.panBy(now.mx - this.pinch.mx, now.my - this.pinch.my);
        this.pinch = now;
        return;
      }
      if (this.mode === 'move' && this.dragPoint >= 0) {
        const [ix, iy] = this.toImage(sx, sy);
        const pt = this.points[this.dragPoint];
        this.points = this.points.map((q, k) => (k === this.dragPoint
          ? { ...pt, row: clampInt(iy, this.height), col: clampInt(ix, this.width) } : q));
        this._schedule();
      } else if (p.moved) {
        this.panBy(sx - p.sx, sy - p.sy);
      }
      p.sx = sx; p.sy = sy;
    });
    const end = (e) => {
      const p = this.pointers.get(e.pointerId);
      if (!p) return;
      this.pointers.delete(e.pointerId);
      if (this.pointers.size < 2) this.pinch = null;
      if (this.mode === 'move' && this.dragPoint >= 0) {
        const i = this.dragPoint;
        this.dragPoint = -1;
        if (p.moved) { const q = this.points[i]; this.cb.onMove(i, q.row, q.col); return; }
      }
      if (p.moved || e.type === 'pointercancel' || this.wasPinch) { if (this.pointers.size === 0) this.wasPinch = false; return; }
      this._click(p.sx, p.sy, e);
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('pointerdown', () => { if (this.pointers.size >= 2) this.wasPinch = true; });
    this.minimap.addEventListener('pointerdown', (e) => {
      const r = this.minimap.getBoundingClientRect();
      this.cx = ((e.clientX - r.left) / r.width) * this.width;
      this.cy = ((e.clientY - r.top) / r.height) * this.height;
      this._clamp();
      this._schedule();
    });
  }

  _pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { dist: Math.max(1, Math.hypot(a.sx - b.sx, a.sy - b.sy)), mx: (a.sx + b.sx) / 2, my: (a.sy + b.sy) / 2 };
  }

  _click(sx, sy, e) {
    if (this.mode === 'zoom') { this.zoomBy(e.shiftKey ? 0.5 : 2, sx, sy); return; }
    const [ix, iy] = this.toImage(sx, sy);
    if (this.mode === 'add') {
      if (ix >= 0 && iy >= 0 && ix < this.width && iy < this.height) this.cb.onAdd(clampInt(iy, this.height), clampInt(ix, this.width));
      return;
    }
    const i = this.hit(sx, sy);
    this.cb.onSelect(i, { additive: e.ctrlKey || e.metaKey || e.shiftKey, pointerType: e.pointerType });
  }
}

function clampInt(v, n) { return Math.max(0, Math.min(n - 1, Math.floor(v))); }
