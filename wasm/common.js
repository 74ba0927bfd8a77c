// common.js - the one copy of what the page side (polyp.js), the worker (worker.js, engine.js)
// and the tests share: the C core's status names and the error class that carries them.
//
// STATUS mirrors polyp_status in core/polyp.h. The module itself reports its enum
// (polyp_wasm_layout, wasm/api_layout.c) and engine.js refuses to start when the two differ,
// so this table cannot drift from the C side unnoticed.

export const FEATURE_DIM = 1280;

/** polyp_status by name: STATUS.cancelled, STATUS.format, ... (never write the numbers). */
export const STATUS = Object.freeze({
  ok: 0, invalid_arg: 1, nomem: 2, io: 3, format: 4, unsupported: 5, limit: 6, cancelled: 7,
  backend: 8,
});

const NAMES = Object.keys(STATUS).sort((a, b) => STATUS[a] - STATUS[b]);

/** The name of a status number ('unknown' for one outside the enum; undefined stays undefined). */
export const statusName = (status) =>
  typeof status === 'number' ? NAMES[status] ?? 'unknown' : undefined;

/**
 * An error from the engine: `status`/`statusName` are the C core's polyp_status (undefined
 * for failures outside the core, e.g. a worker that did not start). A cancelled call is an
 * AbortError, whether the worker or the core noticed the cancel.
 */
export class PolypError extends Error {
  constructor(status, message) {
    super(message);
    this.name = status === STATUS.cancelled ? 'AbortError' : 'PolypError';
    this.status = status;
    this.statusName = statusName(status);
  }

  /** The plain object a worker posts for an error (structured clone drops the class). */
  static toRecord(e) {
    return {
      name: e && e.name ? e.name : 'Error',
      message: e && e.message ? e.message : String(e),
      status: e && typeof e.status === 'number' ? e.status : undefined,
    };
  }

  /** The error again on the receiving side of the worker boundary. */
  static fromRecord(record) {
    const e = new PolypError(record.status, record.message);
    if (record.name === 'AbortError') e.name = 'AbortError';
    return e;
  }
}

/** The error of a call stopped by a cancel (an AbortError with status 'cancelled'). */
export const cancelledError = (message = 'cancelled') => new PolypError(STATUS.cancelled, message);
