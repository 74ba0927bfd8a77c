// queue.js - the one queue for long work (decode/extraction here, training in train.js): one
// job at a time, progress, pause, cancel, shown in one place (the shell's queue panel).
// Persisted jobs live in the store's `jobs` object store, so extraction resumes after a
// reload; a job's handler must be idempotent (extraction skips photos whose features exist).
//
//   queue.register('extract', async (job, { signal, progress }) => { ... });
//   queue.add({ kind: 'extract', projectId, photoId, title, key })   // key: no duplicate pending
//   queue.add({ kind: 'train', projectId, title, persist: false, data: {...} })
//   queue.pause(); queue.resume(); queue.cancel(id); queue.subscribe(fn)

export class Queue {
  constructor(store) {
    this.store = store;
    this.handlers = new Map();
    this.jobs = [];            // pending and running, in order
    this.current = null;       // {job, controller, done, total, text}
    this.paused = false;
    this.listeners = new Set();
    this.lastError = null;
    this.memSeq = 0;
    this.started = false;
    this.idleWaiters = [];
  }

  /** handler(job, {signal, progress(done, total, text)}) -> Promise; rejecting with an
   * AbortError means cancelled. */
  register(kind, handler) {
    this.handlers.set(kind, handler);
    this._kick();
  }

  /** fn(snapshot) after every change; returns the unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    fn(this.snapshot());
    return () => this.listeners.delete(fn);
  }

  snapshot() {
    const c = this.current;
    return {
      paused: this.paused,
      jobs: this.jobs.map((j) => ({ id: j.id, kind: j.kind, title: j.title, projectId: j.projectId, photoId: j.photoId,
        running: !!(c && c.job === j) })),
      current: c ? { id: c.job.id, kind: c.job.kind, title: c.job.title, done: c.done, total: c.total, text: c.text } : null,
      lastError: this.lastError,
    };
  }

  _changed() {
    const s = this.snapshot();
    for (const fn of [...this.listeners]) {
      try { fn(s); } catch (e) { console.error('queue listener failed', e); }
    }
  }

  /** Loads the persisted jobs and starts running. */
  async start() {
    if (this.started) return;
    this.started = true;
    const saved = await this.store.listJobs();
    for (const j of saved.sort((a, b) => a.id - b.id)) if (!this.jobs.some((x) => x.id === j.id)) this.jobs.push(j);
    this._changed();
    this._kick();
  }

  /** Adds a job; resolves to its id (or the id of the pending job with the same `key`). */
  async add({ persist = true, front = false, ...job }) {
    if (job.key) {
      const same = this.jobs.find((j) => j.key === job.key);
      if (same) return same.id;
    }
    let rec;
    if (persist) {
      const { data, ...plain } = job;   // only plain fields are stored
      const id = await this.store.addJob({ ...plain, data: data ?? null });
      rec = { ...job, id, persisted: true };
    } else {
      rec = { ...job, id: `m${++this.memSeq}`, persisted: false };
    }
    if (front) this.jobs.unshift(rec); else this.jobs.push(rec);
    this._changed();
    this._kick();
    return rec.id;
  }

  pause() {
    if (this.paused) return;
    this.paused = true;
    // The running job stops now and runs again from its start on resume.
    if (this.current) this.current.controller.abort(new DOMException('paused', 'AbortError'));
    this._changed();
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this._changed();
    this._kick();
  }

  /** Cancels a pending or running job (removed from the queue for good). */
  async cancel(id) {
    const j = this.jobs.find((x) => x.id === id);
    if (!j) return;
    j.cancelled = true;
    if (this.current && this.current.job === j) this.current.controller.abort(new DOMException('cancelled', 'AbortError'));
    else await this._remove(j);
  }

  /** Cancels every job matching pred(job). */
  async cancelWhere(pred) {
    for (const j of [...this.jobs]) if (pred(j)) await this.cancel(j.id);
  }

  /** Resolves when no job is pending or running. */
  whenIdle() {
    if (this.jobs.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async _remove(j) {
    const i = this.jobs.indexOf(j);
    if (i >= 0) this.jobs.splice(i, 1);
    if (j.persisted) {
      try { await this.store.deleteJob(j.id); } catch (e) { console.error(e); }
    }
    this._changed();
    if (this.jobs.length === 0) for (const r of this.idleWaiters.splice(0)) r();
  }

  _kick() {
    if (this.running || this.paused || !this.started) return;
    const job = this.jobs.find((j) => this.handlers.has(j.kind));
    if (!job) return;
    this.running = true;
    this._run(job).finally(() => {
      this.running = false;
      this._kick();
    });
  }

  async _run(job) {
    const controller = new AbortController();
    this.current = { job, controller, done: 0, total: 0, text: '' };
    this._changed();
    let lastDraw = 0;
    const progress = (done, total, text = '') => {
      Object.assign(this.current, { done, total, text });
      const now = performance.now();
      if (now - lastDraw > 100 || done === total) { lastDraw = now; this._changed(); }
    };
    try {
      await this.handlers.get(job.kind)(job, { signal: controller.signal, progress });
      this.current = null;
      await this._remove(job);
    } catch (e) {
      this.current = null;
      const aborted = e && e.name === 'AbortError';
      if (aborted && !job.cancelled && this.paused) {
        this._changed();            // paused: stays first in line
        return;
      }
      if (!aborted) {
        this.lastError = `${job.title || job.kind}: ${e && e.message || e}`;
        console.error(this.lastError, e);
      }
      await this._remove(job);
    }
  }
}
