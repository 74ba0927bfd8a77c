// bindings.js - the one table of the C functions that JS calls, and the code that makes JS
// functions of them (SQLite's wasm bindings are the model: [name, result, args] rows turned
// into wrappers by cwrap-like code).
//
// The same table is the module's export list: wasm/CMakeLists.txt runs wasm/gen-exports.mjs,
// which writes `_name` for every row, and emcc fails on a name the C side lacks. So a
// function is declared once in C (core/polyp.h, or wasm/api.h where JS needs a flatter form)
// and once here; engine.js calls `api.name(...)` with JS values.
//
// Types of arguments:
//   ptr    a wasm address (0 or null for NULL)    i32, u32   32-bit integers
//   size   size_t (wasm32: 0..2^32-1, checked)    f64        a double
//   bool   true/false as int 1/0                  u64        a BigInt or integer, passed as
//                                                            two uint32 arguments (lo, hi)
//   err    the engine's polyp_error *, filled in by the wrapper (not passed by the caller):
//          after the call the wrapper throws a PolypError with the core's status and message
//          when the status is set, or a `ptr` result is NULL, or a `status` result is not 0.
// Types of results: void, ptr, ptr? (NULL is no failure), i32, u32, size, f64, str (a
// const char * read as a string, null for NULL), status (a polyp_status).
import { PolypError, STATUS } from './common.js';

export const SIGNATURES = [
  // memory, errors, build facts, struct layouts (wasm/api.c, wasm/api_layout.c)
  ['polyp_wasm_malloc', 'ptr?', ['size']],
  ['polyp_wasm_free', 'void', ['ptr']],
  ['polyp_wasm_error_new', 'ptr?', []],
  ['polyp_wasm_error_message', 'str', ['ptr']],
  ['polyp_wasm_version', 'str', []],
  ['polyp_wasm_layout', 'str', []],
  ['polyp_wasm_pool_new', 'ptr?', ['i32', 'err']],
  ['polyp_wasm_pool_delete', 'void', ['ptr']],
  ['polyp_wasm_pool_threads', 'i32', ['ptr']],
  ['polyp_wasm_pool_running', 'i32', ['ptr']],
  // images (wasm/api_image.c; fields read through the polyp_image layout)
  ['polyp_wasm_image_decode', 'ptr', ['ptr', 'size', 'err']],
  ['polyp_wasm_image_free', 'void', ['ptr']],
  ['polyp_wasm_image_crop', 'status', ['ptr', 'u32', 'u32', 'ptr', 'err']],
  // weights, the test network, extraction (core/polyp.h, wasm/api_extract.c)
  ['polyp_wasm_weights_load', 'ptr', ['ptr', 'size', 'err']],
  ['polyp_weights_free', 'void', ['ptr']],
  ['polyp_weights_sha256', 'str', ['ptr']],
  ['polyp_weights_variant', 'str', ['ptr']],
  ['polyp_weights_kind', 'str', ['ptr']],
  ['polyp_weights_feature_dim', 'size', ['ptr']],
  ['polyp_weights_extractor_id', 'str', ['ptr']],
  ['polyp_wasm_testnet_build', 'ptr', ['u64', 'ptr', 'size', 'ptr', 'err']],
  ['polyp_wasm_extractor_init', 'ptr', ['ptr', 'ptr', 'size', 'err']],
  ['polyp_wasm_extractor_free', 'void', ['ptr']],
  ['polyp_wasm_extractor_backend', 'str', ['ptr']],
  ['polyp_wasm_extractor_threads', 'i32', ['ptr']],
  ['polyp_wasm_extract_points', 'status', ['ptr', 'ptr', 'ptr', 'size', 'ptr', 'err']],
  // .featurevector files (wasm/api_npz.c; polyp_features layout)
  ['polyp_wasm_npz_write', 'ptr', ['ptr', 'size', 'ptr', 'size', 'ptr', 'ptr', 'err']],
  ['polyp_wasm_npz_read', 'ptr', ['ptr', 'size', 'err']],
  ['polyp_wasm_npz_free', 'void', ['ptr']],
  // CoralNet annotation CSV (wasm/api_csv.c; polyp_annotations layout)
  ['polyp_wasm_csv_parse', 'ptr', ['ptr', 'size', 'err']],
  ['polyp_wasm_csv_free', 'void', ['ptr']],
  // classifier (core/polyp.h, wasm/api_classifier.c; polyp_train_report, polyp_evaluation)
  ['polyp_wasm_classifier_train_begin', 'ptr',
    ['size', 'size', 'ptr', 'ptr', 'ptr', 'ptr', 'size', 'i32', 'u64', 'size', 'ptr', 'ptr', 'err']],
  ['polyp_wasm_classifier_train_step', 'i32', ['ptr', 'err']],
  ['polyp_wasm_classifier_train_finish', 'ptr', ['ptr', 'ptr', 'err']],
  ['polyp_wasm_classifier_train_free', 'void', ['ptr']],
  ['polyp_classifier_free', 'void', ['ptr']],
  ['polyp_classifier_n_labels', 'size', ['ptr']],
  ['polyp_classifier_label', 'str', ['ptr', 'size']],
  ['polyp_classifier_feature_dim', 'size', ['ptr']],
  ['polyp_classifier_get_kind', 'i32', ['ptr']],
  ['polyp_classifier_extractor_id', 'str', ['ptr']],
  ['polyp_classifier_val_accuracy', 'f64', ['ptr']],
  ['polyp_classifier_ref_accuracy', 'ptr?', ['ptr', 'ptr']],
  ['polyp_classifier_accept', 'i32', ['f64', 'f64']],
  ['polyp_classifier_should_train', 'i32', ['size', 'size']],
  ['polyp_wasm_classifier_predict', 'status', ['ptr', 'ptr', 'size', 'size', 'ptr', 'ptr', 'err']],
  ['polyp_wasm_classifier_save', 'ptr', ['ptr', 'ptr', 'err']],
  ['polyp_wasm_classifier_load', 'ptr', ['ptr', 'size', 'err']],
  ['polyp_wasm_classifier_evaluate', 'ptr', ['ptr', 'ptr', 'size', 'ptr', 'ptr', 'size', 'err']],
  ['polyp_wasm_classifier_evaluation_free', 'void', ['ptr']],
  ['polyp_wasm_classifier_points_generate', 'ptr',
    ['i32', 'size', 'size', 'size', 'size', 'u32', 'u32', 'u32', 'u32', 'u64', 'ptr', 'err']],
  ['polyp_wasm_classifier_export_csv', 'ptr',
    ['size', 'ptr', 'ptr', 'ptr', 'ptr', 'size', 'ptr', 'ptr', 'ptr', 'size', 'bool', 'ptr', 'err']],
];

/** The JS name of a C function: without its polyp_wasm_ or polyp_ prefix. */
export const jsName = (cName) => cName.replace(/^polyp_(wasm_)?/, '');

/** emcc's export names, one per row (wasm/gen-exports.mjs writes them for the link). */
export const exportNames = () => SIGNATURES.map(([name]) => `_${name}`);

const U32_MAX = 0xffffffff;

function toU32(name, i, x) {
  const v = Number(x);
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new PolypError(STATUS.invalid_arg, `${name}: argument ${i + 1} (${x}) is not an integer in 0..2^32-1`);
  }
  return v;
}

const ARGS = {
  ptr: (name, i, x) => (x ? x >>> 0 : 0),
  i32: (name, i, x) => Number(x) | 0,
  u32: toU32,
  size: toU32,
  f64: (name, i, x) => Number(x),
  bool: (name, i, x) => (x ? 1 : 0),
};

const RESULTS = {
  void: () => undefined,
  ptr: (r) => r >>> 0,
  'ptr?': (r) => r >>> 0,
  i32: (r) => r | 0,
  u32: (r) => r >>> 0,
  size: (r) => r >>> 0,
  f64: (r) => r,
  status: (r) => r | 0,
};

// Element sizes of the struct field types of wasm/api_layout.c (wasm32).
const FIELD_SIZE = { u32: 4, i32: 4, size: 4, ptr: 4, str: 4, f64: 8 };

/**
 * Every function of SIGNATURES as a JS function on one module, plus readers of the core's
 * structs by field name (the layout the module reports, wasm/api_layout.c).
 */
export class Api {
  constructor(mod) {
    this.m = mod;
    for (const [name, result, args] of SIGNATURES) {
      if (jsName(name) in this) throw new TypeError(`bindings: ${name} would hide ${jsName(name)}`);
      this[jsName(name)] = this.wrap(name, result, args);
    }
    this.err = this.error_new();
    if (!this.err) throw new PolypError(STATUS.nomem, 'polyp: out of wasm memory for the error record');
    const layout = JSON.parse(this.layout());
    if (layout.error) throw new PolypError(STATUS.backend, layout.error);
    this.structs = layout.structs;
    this.enums = layout.enums;
    this.checkLayout();
  }

  /** The memory now (it may have grown, or be shared and grown by another thread). */
  buffer() { return this.m.wasmMemory ? this.m.wasmMemory.buffer : this.m.HEAPU8.buffer; }

  cstring(p) {
    if (!p) return null;
    const heap = new Uint8Array(this.buffer());
    let end = p;
    while (heap[end]) end++;
    // Copy first: TextDecoder refuses views of shared memory (threaded artifact).
    return new TextDecoder().decode(heap.slice(p, end));
  }

  wrap(name, result, args) {
    const f = this.m[`_${name}`];
    if (typeof f !== 'function') {
      throw new PolypError(STATUS.backend, `polyp: the wasm module lacks ${name} (listed in wasm/bindings.js)`);
    }
    const usesErr = args[args.length - 1] === 'err';
    const ins = usesErr ? args.slice(0, -1) : args;
    const toResult = result === 'str' ? (r) => this.cstring(r >>> 0) : RESULTS[result];
    if (!toResult || ins.some((a) => a !== 'u64' && !ARGS[a])) throw new TypeError(`bindings: bad signature of ${name}`);
    return (...xs) => {
      if (xs.length !== ins.length) {
        throw new TypeError(`${jsName(name)}: ${xs.length} arguments for ${ins.length}`);
      }
      const raw = [];
      ins.forEach((a, i) => {
        if (a === 'u64') {
          const v = BigInt.asUintN(64, BigInt(xs[i]));
          raw.push(Number(v & 0xffffffffn), Number(v >> 32n));
        } else {
          raw.push(ARGS[a](name, i, xs[i]));
        }
      });
      if (usesErr) {
        this.setI32(this.err + this.structs.polyp_error.fields.status.offset, STATUS.ok);
        raw.push(this.err);
      }
      const r = f(...raw);
      if (usesErr) this.check(result, r);
      return toResult(r);
    };
  }

  /** Throws the core's error after a call that failed (see the `err` type above). */
  check(result, r) {
    const status = this.i32(this.err + this.structs.polyp_error.fields.status.offset);
    const failed = status !== STATUS.ok || (result === 'ptr' && !r) || (result === 'status' && r !== 0);
    if (!failed) return;
    // A failure without a status is still an error, reported as the backend's.
    throw new PolypError(status || (result === 'status' && r) || STATUS.backend, this.error_message(this.err));
  }

  i32(p) { return new DataView(this.buffer()).getInt32(p, true); }
  u32(p) { return new DataView(this.buffer()).getUint32(p, true); }
  setI32(p, v) { new DataView(this.buffer()).setInt32(p, v, true); }

  /** sizeof(struct name) in the module. */
  sizeOf(name) { return this.structs[name].size; }

  /** The fields of struct `name` at `p` as an object (fixed arrays as typed-array copies). */
  read(name, p) {
    const view = new DataView(this.buffer());
    const out = {};
    for (const [field, { offset, type, count }] of Object.entries(this.structs[name].fields)) {
      const at = p + offset;
      if (count > 1) {
        const T = type === 'f64' ? Float64Array : type === 'i32' ? Int32Array : Uint32Array;
        out[field] = this.copyOut(T, at, count);
        continue;
      }
      switch (type) {
        case 'f64': out[field] = view.getFloat64(at, true); break;
        case 'i32': out[field] = view.getInt32(at, true); break;
        case 'str': out[field] = this.cstring(view.getUint32(at, true)); break;
        default: out[field] = view.getUint32(at, true);   // u32, size, ptr
      }
    }
    return out;
  }

  /** n structs `name` back to back at p. */
  readArray(name, p, n) {
    const size = this.sizeOf(name);
    return Array.from({ length: n }, (_, i) => this.read(name, p + i * size));
  }

  /** A copy of n elements of typed-array type T at p (never a view of shared memory). */
  copyOut(T, p, n) { return new T(this.buffer(), p, n).slice(); }

  /** The value of enum constant `cName` of C enum `enumName` (throws on an unknown one). */
  enumValue(enumName, cName) {
    const v = this.enums[enumName] && this.enums[enumName][cName];
    if (v === undefined) throw new PolypError(STATUS.backend, `polyp: the module has no ${enumName} ${cName}`);
    return v;
  }

  /** common.js's STATUS must be the C enum (POLYP_ERR_FORMAT -> format) and the fields fit. */
  checkLayout() {
    const c = Object.entries(this.enums.polyp_status)
      .map(([k, v]) => [k.replace(/^POLYP_(ERR_)?/, '').toLowerCase(), v]);
    const same = c.length === Object.keys(STATUS).length && c.every(([k, v]) => STATUS[k] === v);
    if (!same) throw new PolypError(STATUS.backend, `polyp: wasm/common.js STATUS differs from the module's polyp_status ${JSON.stringify(this.enums.polyp_status)}`);
    for (const [name, { size, fields }] of Object.entries(this.structs)) {
      for (const [field, { offset, type, count }] of Object.entries(fields)) {
        if (!FIELD_SIZE[type]) throw new PolypError(STATUS.backend, `polyp: ${name}.${field} has a C type JS cannot read ('${type}')`);
        if (offset + count * FIELD_SIZE[type] > size) {
          throw new PolypError(STATUS.backend, `polyp: layout of ${name}.${field} (${type} x ${count} at ${offset}) does not fit ${size} bytes`);
        }
      }
    }
  }
}
