// polyp.d.ts - hand-written types of polyp's JavaScript API (wasm/polyp.js).
//
// All heavy work runs in a dedicated worker that owns the WebAssembly module; every method
// returns a promise and never blocks the page. Buffers you pass are copied unless you pass
// { transfer: true } (then an ArrayBuffer, or a typed array covering its whole buffer, is
// moved to the worker and becomes unusable here). Result buffers are transferred to you.

/** Bytes polyp accepts: a File/Blob (read inside the worker), an ArrayBuffer or a typed array. */
export type Bytes = Blob | ArrayBuffer | ArrayBufferView;

/** A point: 0-based pixel row (y) and column (x) from the top-left of the stored image. */
export type Point = readonly [row: number, col: number] | { readonly row: number; readonly col: number };

/** Points as [row, col] pairs, or as a flat Uint32Array [row0, col0, row1, col1, ...]. */
export type Points = readonly Point[] | Uint32Array;

/** Status names of the C core (polyp_status). */
export type PolypStatusName =
  | 'ok' | 'invalid_arg' | 'nomem' | 'io' | 'format' | 'unsupported' | 'limit' | 'cancelled'
  | 'backend' | 'unknown';

/** A failure reported by the engine; `message` is the core's one-line reason naming the input. */
export declare class PolypError extends Error {
  /** 'PolypError', or 'AbortError' when the call was cancelled. */
  readonly name: 'PolypError' | 'AbortError';
  /** The C core's polyp_status code (compare with STATUS, e.g. STATUS.cancelled). */
  readonly status: number | undefined;
  readonly statusName: PolypStatusName | undefined;
}

/** The C core's polyp_status codes by name (PolypError.status is one of them). */
export declare const STATUS: { readonly [K in Exclude<PolypStatusName, 'unknown'>]: number };

export declare const FEATURE_DIM: 1280;

export interface CreateOptions {
  /** Worker threads for extraction: 'auto' (hardware threads, at most 8) or a count. More than
   * one needs a cross-origin-isolated page (COOP + COEP headers); otherwise polyp falls back to
   * the single-threaded module and says so. Default 'auto'. */
  threads?: 'auto' | number;
  /** Folder (URL) holding polyp-simd.{mjs,wasm} and polyp-simd-mt.{mjs,wasm,worker.js}.
   * Default: dist/ next to polyp.js. */
  baseUrl?: string | URL;
  /** URL of worker.js. Default: next to polyp.js. */
  workerUrl?: string | URL;
  /** Receives the one-line artifact choice, once per page. Default console.info; null: silent. */
  log?: ((message: string) => void) | null;
  /** false: never give training a SharedArrayBuffer cancel flag, i.e. cancel exactly as on a
   * page that is not cross-origin isolated (for tests). Default true. */
  sharedCancel?: boolean;
}

export interface CallOptions {
  /** Move the input buffer to the worker instead of copying it. */
  transfer?: boolean;
}

export interface WeightsInfo {
  /** SHA-256 (lowercase hex) of the file the network was published as: a PyTorch
   * checkpoint's own bytes, also for models/convert.py's safetensors of it (its source_sha256);
   * other files' own bytes. */
  sha256: string;
  /** 'lukemelas' (CoralNet's) or 'torchvision' (EfficientNet-B0), 'tflite'. */
  variant: string;
  /** The network: 'efficientnet_b0' | 'mobilenet_v1' | 'mobilenet_v2'. */
  kind: string;
  /** Width of its features: floats per point in extract results (1280 for EfficientNet-B0 and
   * MobileNet v2, 1024 for MobileNet v1). */
  featureDim: number;
  /** '<kind>:<sha256>:<featureDim>': pass it as TrainOptions.extractorId. */
  extractorId: string;
  /** '<extractorId> variant=<variant>': the extractor record the native `polyp extract`
   * stores in its feature files (and `polyp train` binds models to); pass it as
   * NpzOptions.extractor so features written here carry it too. */
  extractorRecord: string;
  /** Backend in use ('portable' in wasm). */
  backend: string;
  /** Threads the extractor uses. */
  threads: number;
}

export interface ImageInfo {
  width: number;
  height: number;
  /** The file ended early; the decoder filled the rest (CoralNet keeps such files). */
  truncated: boolean;
  /** Calls with an `imageKey` only: whether this call decoded the image (false: it used the
   * one kept for that key). */
  decoded?: boolean;
}

export interface ImageOptions extends CallOptions {
  /** The caller's name for the image's bytes (e.g. their SHA-256): the worker keeps the last
   * image decoded under a key, and the next call naming it skips the decode. One image is
   * kept at most; any other decode frees it (Polyp.releaseImage() frees it now). The caller
   * promises that one key always names the same bytes. */
  imageKey?: string;
}

export interface ExtractOptions extends ImageOptions {
  /** Cancels between chunks: the promise rejects with an AbortError PolypError. */
  signal?: AbortSignal;
  /** Called after every chunk with points done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Points per step between progress/cancel checkpoints (default 8). */
  chunk?: number;
}

export interface ExtractResult extends ImageInfo {
  npoints: number;
  dim: 1280;
  /** npoints x 1280 float32, row-major, in point order. */
  features: Float32Array;
}

export interface FeatureFile {
  npoints: number;
  dim: number;
  /** false for legacy files without point locations (rows/cols null). */
  validRowcol: boolean;
  rows: Uint16Array | null;
  cols: Uint16Array | null;
  /** npoints x dim float32 (the file stores float64). */
  features: Float32Array;
  /** The extractor record (extractor.npy, e.g. WeightsInfo.extractorRecord of the weights
   * that made the features); null when the file has none (pyspacer's files, or
   * featuresToNpz without NpzOptions.extractor). */
  extractor: string | null;
}

export interface NpzOptions {
  /** Floats per point (default 1280). */
  dim?: number;
  /** The extractor record of the weights that made the features (WeightsInfo.extractorRecord),
   * stored as a fifth member, extractor.npy, as `polyp extract` stores it: `polyp train`
   * then binds models to it and refuses to mix the file with another extractor's. Printable
   * ASCII, at most 1024 characters. Default null: no record (as pyspacer writes). */
  extractor?: string | null;
}

export interface Annotations {
  /** Image names, one per row, in file order. */
  names: string[];
  rows: Uint32Array;
  cols: Uint32Array;
  /** Label code, or null when the row has none. */
  labels: (string | null)[];
}

/** One image of a labelled source, in the source's stable order. */
export interface TrainingImage {
  /** Label code per point; null (or '') = unlabelled, ignored. */
  labels: readonly (string | null)[];
  /** labels.length x dim features, row-major. */
  features: Float32Array;
}

export interface TrainOptions {
  /** 'mlp' (CoralNet's, default) or 'lr' (calibrated SGD logistic regression). */
  kind?: 'mlp' | 'lr';
  /** Seed of initialisation and shuffles (default 0): same seed, same model. */
  seed?: bigint | number;
  /** Epochs (default 10). */
  epochs?: number;
  /** The features' extractor (WeightsInfo.extractorId), stored in the model; classifiers
   * refuse features of another extractor. */
  extractorId?: string | null;
  /** Cancels at the next epoch boundary on every page (the worker runs one epoch at a time
   * and yields between epochs); the training is freed and the promise rejects with an
   * AbortError. */
  signal?: AbortSignal;
  /** After every epoch: epochs done, total, reference-set accuracy (uncalibrated). */
  onProgress?: (epoch: number, epochs: number, refAccuracy: number) => void;
}

export interface TrainReport {
  nClasses: number;
  /** Labelled points used per role: [train, reference, validation]. */
  points: [number, number, number];
  images: [number, number, number];
  /** MLP hidden layer sizes ([100] or [200, 100]). */
  hidden: number[];
  learningRate: number;
  epochsDone: number;
  refAccuracyLast: number;
  valAccuracy: number;
}

export interface LabelMetrics { precision: number; recall: number; f1: number; support: number }

export interface Evaluation {
  accuracy: number;
  macroF1: number;
  /** The union of the model's labels and the true labels, sorted. */
  labels: string[];
  perLabel: LabelMetrics[];
  /** labels.length^2 counts, [true * labels.length + predicted]. */
  confusion: Uint32Array;
  /** For thresholds 0..100 (integer percent): accuracy of points whose top confidence
   * reaches it (-1 when none) and their fraction of all points (CoralNet's Alleviate). */
  alleviateAccuracy: Float64Array;
  alleviateFraction: Float64Array;
  /** The probabilities that were evaluated, n x model labels. */
  probs: Float32Array;
}

/** A classifier living in the worker. */
export declare class Classifier {
  private constructor();
  /** Class order of every probability row (sorted label codes). */
  readonly labels: string[];
  readonly kind: 'mlp' | 'lr';
  readonly featureDim: number;
  readonly extractorId: string;
  /** Reference accuracy after each epoch. */
  readonly refAccuracy: number[];
  /** Calibrated accuracy on the validation images (compare with 1.01 x the previous
   * classifier's to decide replacement, as CoralNet does). */
  readonly valAccuracy: number;
  /** Present on freshly trained classifiers. */
  readonly report: TrainReport | null;
  /** Calibrated probabilities, n x labels.length, rows summing to 1. */
  predict(features: Float32Array): Promise<Float32Array>;
  /** Scores features and compares them with true labels (null = skip the point). */
  evaluate(features: Float32Array, truth: readonly (string | null)[]): Promise<Evaluation>;
  /** The self-describing model file (safetensors); `polyp classify` reads it too. */
  save(): Promise<Uint8Array>;
  /** Frees it in the worker. */
  dispose(): Promise<boolean>;
}

export interface PointsParams {
  method: 'random' | 'stratified' | 'grid';
  /** random: number of points (default 30). */
  n?: number;
  /** stratified and grid: cells. */
  cellRows?: number;
  cellCols?: number;
  /** stratified: points per cell. */
  perCell?: number;
  /** Inclusive annotation area in pixels. */
  minRow?: number;
  maxRow: number;
  minCol?: number;
  maxCol: number;
  seed?: bigint | number;
}

export declare class Polyp {
  private constructor();
  /** The module running: 'simd-mt' (SIMD + threads) or 'simd' (single-threaded). */
  readonly flavor: 'simd' | 'simd-mt';
  readonly threads: number;
  readonly version: string;
  /** Whether training may use a SharedArrayBuffer cancel flag (CreateOptions.sharedCancel). */
  readonly sharedCancel: boolean;

  /** Loads network weights, replacing earlier ones: safetensors, or a PyTorch checkpoint (.pt/.pth,
   * both torch.save formats, read without running pickled code); every tensor checked. */
  loadWeights(weights: Bytes, options?: CallOptions & { batchSize?: number }): Promise<WeightsInfo>;
  /** Fetches weights once and keeps them in Cache Storage (default cache 'polyp-weights-v1';
   * null: no cache); `cached` says whether this load came from the cache. */
  loadWeightsFromUrl(url: string | URL, options?: { cache?: string | null; batchSize?: number }): Promise<WeightsInfo & { cached: boolean }>;
  /** The seeded, untrained test network (models/testnet.py) as safetensors bytes. */
  buildTestnet(seed: bigint | number, bnStats: Bytes): Promise<Uint8Array>;
  /** Decodes JPEG (libjpeg-turbo, Pillow's pixels), PNG and other stb_image formats. */
  decodeImage(image: Bytes, options?: ImageOptions): Promise<ImageInfo>;
  /** The same, with the decoded RGB bytes (height x width x 3, row-major). */
  decodeImage(image: Bytes, options: ImageOptions & { pixels: true }): Promise<ImageInfo & { pixels: Uint8Array }>;
  /** The 224x224 patch around every point exactly as the extractor sees it (the core's crop:
   * centred at patch pixel (112, 112), reflect-padded at the borders), as RGB bytes: n x 224 x
   * 224 x 3, row-major, point after point. For showing a point's patch. */
  cropPatches(image: Bytes, points: Points, options?: ImageOptions): Promise<ImageInfo & { npoints: number; size: 224; patches: Uint8Array }>;
  /** 1280-value EfficientNet-B0 features of the 224x224 patch around every point. */
  extract(image: Bytes, points: Points, options?: ExtractOptions): Promise<ExtractResult>;
  /** pyspacer .featurevector (npz) bytes for points and their features, with the extractor
   * record when options.extractor gives one. */
  featuresToNpz(points: Points, features: Float32Array, options?: NpzOptions): Promise<Uint8Array>;
  /** The older form: `dim` floats per point, no extractor record. */
  featuresToNpz(points: Points, features: Float32Array, dim?: number): Promise<Uint8Array>;
  /** Reads a .featurevector (stored or deflated npz, as pyspacer writes), with its extractor
   * record when it has one. */
  readNpz(bytes: Bytes): Promise<FeatureFile>;
  /** CoralNet annotation CSV: Name, Row, Column, Label code (or Label); any order/case. */
  parseAnnotationsCsv(csv: Bytes | string): Promise<Annotations>;
  /** Trains a per-source classifier with CoralNet's splits, schedule and calibration. */
  trainClassifier(data: { dim?: number; images: readonly TrainingImage[] }, options?: TrainOptions): Promise<Classifier>;
  /** Loads a model file (Classifier.save() or the native `polyp train`). */
  loadClassifier(bytes: Bytes): Promise<Classifier>;
  /** CoralNet's export CSV text; with a classifier and its probabilities, machine suggestions
   * and confidences (integer percent) for the top `top` labels (default 5). Rows whose
   * probabilities are NaN get blank suggestions. */
  exportAnnotationsCsv(rows: { names: readonly string[]; rows: ArrayLike<number>; cols: ArrayLike<number>; labels: readonly (string | null)[] },
    options?: { classifier?: Classifier | null; probs?: Float32Array | null; top?: number; allScores?: boolean }): Promise<string>;
  /** CoralNet's acceptance rule: true when a classifier with validation accuracy newAcc
   * replaces one that scores prevAcc on the same validation set (newAcc >= 1.01 x prevAcc). */
  acceptClassifier(newAcc: number, prevAcc: number): Promise<boolean>;
  /** CoralNet's retraining schedule: true when nAnnotated annotated images call for a
   * training, nLast being the count at the last training (0 = never): first at 20, then at
   * 1.1 x nLast. */
  shouldTrain(nAnnotated: number, nLast?: number): Promise<boolean>;
  /** CoralNet's point generation; returns [row, col] pairs flattened. */
  generatePoints(params: PointsParams): Promise<Uint32Array>;
  /** Frees the image kept for `imageKey` calls (ImageOptions); none kept: nothing to do. */
  releaseImage(): Promise<boolean>;
  /** Stops the worker; pending calls reject with an AbortError. */
  terminate(): void;
}

/** Starts the worker and the module that suits this page (see CreateOptions.threads). */
export declare function createPolyp(options?: CreateOptions): Promise<Polyp>;

// ---- pure-JS helpers (wasm/survey.js, wasm/zip.js): no worker, synchronous unless noted

/** CoralNet's integer percent of a probability, round half up (the export CSV's and the
 * Alleviate curve's rule). */
export declare function scorePercent(p: number): number;
/** The annotation tool's percent: floored. */
export declare function floorPercent(p: number): number;
/** `CODE [NN%]` with the percent floored, as CoralNet's annotation tool shows a suggestion. */
export declare function formatSuggestion(code: string, score: number): string;
export interface Suggestion { code: string; score: number }
/** The top k (default 5) labels of row `row` of n x labels.length probabilities; [] for a NaN row. */
export declare function topSuggestions(probs: ArrayLike<number>, labels: readonly string[], k?: number, row?: number): Suggestion[];
/** Several points' scores combined: the per-label product, normalised to sum to 1 (NaN when
 * every label is ruled out). */
export declare function combineScores(rows: readonly ArrayLike<number>[]): Float64Array;
/** Alleviate: does a suggestion with this top score pass an integer-percent threshold 0..100? */
export declare function alleviateAccepts(topScore: number, threshold: number): boolean;
export interface CoverImage { name: string; labels: readonly (string | null)[] }
export interface PercentCover {
  codes: string[];
  /** cover: fractions per code (NaN for an image without annotated points). */
  images: { name: string; points: number; annotated: number; cover: Float64Array }[];
  /** Images with at least one annotated point. */
  n: number;
  /** Mean cover over those images, and its standard error (NaN for n < 2). */
  mean: Float64Array;
  se: Float64Array;
}
/** Percent cover per image and over images (mean, SE), as CoralNet's image-covers export. */
export declare function percentCover(images: readonly CoverImage[], codes: readonly string[]): PercentCover;
/** CoralNet's percent-cover CSV (Image ID, Image name, Annotation status, Points, one column
 * per code; an ALL IMAGES row of means when more than one image). */
export declare function percentCoverCsv(images: readonly (CoverImage & { id?: string | number; status?: string })[], codes: readonly string[]): string;

/** ZIP's CRC-32 of bytes, continuing from crc. */
export declare function crc32(bytes: Uint8Array, crc?: number): number;
export interface ZipEntry { name: string; data: string | Blob | ArrayBuffer | ArrayBufferView }
/** A ZIP of stored entries, as a Blob (no Zip64: at most 4 GiB and 65,535 files). */
export declare function zipFiles(entries: readonly ZipEntry[], options?: { date?: Date }): Promise<Blob>;
/** The entries of a ZIP of stored entries; each data is a slice of the archive. */
export declare function unzipFiles(archive: Blob | ArrayBuffer | ArrayBufferView, options?: { verify?: boolean }): Promise<{ name: string; size: number; crc: number; data: Blob }[]>;
