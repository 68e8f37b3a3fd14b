// TensorFlow.js interop without a dependency on TF.js:
//  - weights saved by TF.js (model.json + binary shards, or the Python converter's
//    output) read from disk, and written back;
//  - a tf.Tensor-like object → our Tensor (fromTfjs) and our Tensor → tf.tensor()'s
//    arguments (toTfjsArgs), sharing memory where TF.js lets us.
//
// weightsManifest: [{ paths: [shard files, relative to model.json], weights: [{ name,
// shape, dtype, quantization? }] }]; each group's weights are concatenated, in order,
// across the group's shard files (a weight may straddle two shards).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, formatShape, rangeError, typeError } from '../errors';
import { checkOptionsObject, optionKeys } from '../validate';
import type { MultiHeadAttention } from '../multi-head-attention';
import type { Tensor } from '../tensor';
import { float16ToFloat32 } from './float16';
import { fromKeras, type FromKerasOptions } from './keras';

const LITTLE_ENDIAN = os.endianness() === 'LE';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  /** Weights stored quantized: value = q·scale + min (uint8 / uint16), or float16. */
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface LoadTfjsWeightsOptions {
  /** Leave out weights that are not float32 (int32, bool, string, complex64) instead of throwing. */
  skipUnsupported?: boolean;
}

const LOAD = 'loadTfjsWeights';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads the weights of a TF.js model from disk: `model.json` (a layers or graph model's
 * JSON with a weightsManifest, or a bare weights manifest array) and its shard files.
 * Float32 weights are views onto the shard bytes when possible (one shard per group,
 * 4-byte aligned); quantized weights (float16, uint8, uint16) are dequantized.
 */
export function loadTfjsWeights(modelJsonPath: string, options: LoadTfjsWeightsOptions = {}): Record<string, Tensor> {
  if (typeof modelJsonPath !== 'string') throw typeError(`${LOAD}: modelJsonPath`, 'a path to model.json', modelJsonPath);
  if (!isObject(options)) throw typeError(`${LOAD}: options`, 'an options object', options);
  checkOptionsObject(`${LOAD}: options`, options, optionKeys<LoadTfjsWeightsOptions>()({ skipUnsupported: true }));
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err;
    throw rangeError(`${LOAD}: ${modelJsonPath}`, 'JSON', `text that is not JSON (${(err as Error).message})`);
  }
  const manifest = Array.isArray(json) ? json : isObject(json) ? json.weightsManifest : undefined;
  if (!Array.isArray(manifest)) throw typeError(`${LOAD}: weightsManifest`, 'an array of weight groups', manifest);
  const dir = path.dirname(modelJsonPath);
  const out: Record<string, Tensor> = {};
  manifest.forEach((group: unknown, g: number) => {
    const arg = `${LOAD}: weightsManifest[${g}]`;
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw typeError(arg, 'a group { paths: string[], weights: [...] }', group);
    }
    const buffers = group.paths.map((p: unknown, i: number) => {
      if (typeof p !== 'string') throw typeError(`${arg}.paths[${i}]`, 'a file name', p);
      return fs.readFileSync(path.join(dir, decodeURIComponent(p)));
    });
    const bytes = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
    let offset = 0;
    group.weights.forEach((spec: unknown, i: number) => {
      const warg = `${arg}.weights[${i}]`;
      if (!isObject(spec) || typeof spec.name !== 'string' || !Array.isArray(spec.shape) || typeof spec.dtype !== 'string') {
        throw typeError(warg, 'a weight { name, shape, dtype }', spec);
      }
      const name = spec.name;
      const shape = spec.shape as unknown[];
      if (shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
        throw rangeError(`${warg} (${JSON.stringify(name)}).shape`, 'non-negative integers', JSON.stringify(shape));
      }
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      const q = spec.quantization;
      let size: number;
      if (spec.dtype === 'string') {
        size = stringBytes(bytes, offset, count, warg);
      } else {
        const elem = isObject(q)
          ? ({ uint8: 1, uint16: 2, float16: 2 } as Record<string, number>)[q.dtype as string]
          : ({ float32: 4, int32: 4, bool: 1, complex64: 8 } as Record<string, number>)[spec.dtype];
        if (elem === undefined) {
          throw rangeError(
            `${warg} (${JSON.stringify(name)})`,
            'dtype float32, int32, bool, string or complex64, quantized as uint8, uint16 or float16',
            JSON.stringify(isObject(q) ? q : spec.dtype),
          );
        }
        size = count * elem;
      }
      if (offset + size > bytes.length) {
        throw rangeError(
          `${warg} (${JSON.stringify(name)})`,
          `${size} bytes at offset ${offset} of the shards`,
          `shards of ${bytes.length} bytes in all`,
        );
      }
      if (spec.dtype !== 'float32') {
        if (!options.skipUnsupported) {
          throw rangeError(
            `${warg} (${JSON.stringify(name)}).dtype`,
            'float32 (pass skipUnsupported: true to leave it out)',
            JSON.stringify(spec.dtype),
          );
        }
      } else {
        out[name] = { data: decode(bytes, offset, count, isObject(q) ? q : null, warg), shape: [...(shape as number[])] };
      }
      offset += size;
    });
    if (offset !== bytes.length) {
      throw rangeError(`${arg}`, `shards of ${offset} bytes (the sum of the weights' sizes)`, `${bytes.length} bytes`);
    }
  });
  return out;
}

function stringBytes(bytes: Uint8Array, offset: number, count: number, arg: string): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw rangeError(arg, 'string lengths within the shards', `offset ${at}`);
    at += 4 + dv.getUint32(at, true);
  }
  return at - offset;
}

function decode(bytes: Uint8Array, offset: number, count: number, q: Record<string, unknown> | null, arg: string): Float32Array {
  const start = bytes.byteOffset + offset;
  if (!q) {
    if (LITTLE_ENDIAN && start % 4 === 0) return new Float32Array(bytes.buffer, start, count);
    const out = new Float32Array(count);
    const dv = new DataView(bytes.buffer, start, count * 4);
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  const dv = new DataView(bytes.buffer, start, count * (q.dtype === 'uint8' ? 1 : 2));
  if (q.dtype === 'float16') {
    const bits = new Uint16Array(count);
    for (let i = 0; i < count; i++) bits[i] = dv.getUint16(i * 2, true);
    return float16ToFloat32(bits);
  }
  const scale = q.scale;
  const min = q.min;
  if (typeof scale !== 'number' || typeof min !== 'number') {
    throw typeError(`${arg}.quantization`, `numbers scale and min for ${String(q.dtype)} quantization`, q);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (q.dtype === 'uint8' ? dv.getUint8(i) : dv.getUint16(i * 2, true)) * scale + min;
  return out;
}

export interface SaveTfjsWeightsOptions {
  /** The JSON file's name in `dir` (default "model.json"). */
  modelJsonName?: string;
  /** Largest shard, in bytes (default 4 MiB, TF.js's default). Weights straddle shards as TF.js's do. */
  shardBytes?: number;
  /** Stored as model.json's "modelTopology" (default null: a weights-only file). */
  modelTopology?: unknown;
  /** model.json's "format" (default "layers-model"). */
  format?: string;
}

export interface SavedTfjsWeights {
  modelJsonPath: string;
  shardPaths: string[];
  weightsManifest: TfjsWeightsGroup[];
}

const SAVE = 'saveTfjsWeights';

/**
 * Writes tensors as a TF.js weights manifest and float32 shards: `dir/model.json` and
 * `dir/group1-shard{i}of{n}.bin`, in the tensors' order (e.g. toKeras()'s).
 */
export function saveTfjsWeights(
  tensors: Record<string, Tensor>,
  dir: string,
  options: SaveTfjsWeightsOptions = {},
): SavedTfjsWeights {
  if (!isObject(tensors)) throw typeError(`${SAVE}: tensors`, 'an object of tensors keyed by name', tensors);
  if (typeof dir !== 'string') throw typeError(`${SAVE}: dir`, 'a directory path', dir);
  if (!isObject(options)) throw typeError(`${SAVE}: options`, 'an options object', options);
  checkOptionsObject(
    `${SAVE}: options`,
    options,
    optionKeys<SaveTfjsWeightsOptions>()({ modelJsonName: true, shardBytes: true, modelTopology: true, format: true }),
  );
  const shardBytes = options.shardBytes ?? 4 * 1024 * 1024;
  if (typeof shardBytes !== 'number' || !Number.isSafeInteger(shardBytes) || shardBytes < 1) {
    throw rangeError(`${SAVE}: shardBytes`, 'a positive integer', describe(shardBytes));
  }
  const modelJsonName = options.modelJsonName ?? 'model.json';
  if (typeof modelJsonName !== 'string') throw typeError(`${SAVE}: modelJsonName`, 'a file name', modelJsonName);
  const weights: TfjsWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!isObject(t) || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
      throw typeError(`${SAVE}: ${JSON.stringify(name)}`, 'a tensor { data: Float32Array, shape }', t);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count)
      throw rangeError(
        `${SAVE}: ${JSON.stringify(name)}.data`,
        `${count} elements for shape ${formatShape(t.shape)}`,
        `${t.data.length}`,
      );
    weights.push({ name, shape: [...t.shape], dtype: 'float32' });
    let bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!LITTLE_ENDIAN) {
      bytes = new Uint8Array(t.data.byteLength);
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < t.data.length; i++) dv.setFloat32(i * 4, t.data[i]!, true);
    }
    chunks.push(bytes);
    total += bytes.length;
  }
  const all = Buffer.concat(chunks, total);
  const n = Math.max(1, Math.ceil(total / shardBytes));
  fs.mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  const shardPaths: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = `group1-shard${i + 1}of${n}.bin`;
    paths.push(file);
    shardPaths.push(path.join(dir, file));
    fs.writeFileSync(path.join(dir, file), all.subarray(i * shardBytes, Math.min(total, (i + 1) * shardBytes)));
  }
  const weightsManifest: TfjsWeightsGroup[] = [{ paths, weights }];
  const modelJson = {
    format: options.format ?? 'layers-model',
    generatedBy: 'native-attention',
    convertedBy: null,
    modelTopology: options.modelTopology ?? null,
    weightsManifest,
  };
  const modelJsonPath = path.join(dir, modelJsonName);
  fs.writeFileSync(modelJsonPath, `${JSON.stringify(modelJson, null, 1)}\n`);
  return { modelJsonPath, shardPaths, weightsManifest };
}

/** fromKeras(loadTfjsWeights(modelJsonPath), options). */
export function loadKerasFromTfjs(modelJsonPath: string, options: FromKerasOptions = {}): MultiHeadAttention {
  return fromKeras(loadTfjsWeights(modelJsonPath, { skipUnsupported: true }), options);
}

// ---------------------------------------------------------------------------------------
// tf.Tensor adapters (TF.js is not a dependency: these only use the objects' shapes).

/** What fromTfjs() needs of a tf.Tensor. */
export interface TfjsTensorLike {
  readonly shape: readonly number[];
  readonly dtype?: string;
  dataSync(): ArrayLike<number>;
}

export interface FromTfjsOptions {
  /** Copy the values instead of using dataSync()'s array. */
  copy?: boolean;
}

/**
 * A tf.Tensor (float32) → our Tensor, through t.dataSync() and t.shape. TF.js's cpu
 * backend (and others that keep values in JS memory) returns its own array from
 * dataSync(): no copy is made, so treat the data as read-only (writing to it changes
 * the tf.Tensor) or pass `copy: true`. The array stays valid after t.dispose().
 * GPU backends download (a synchronous read) and return a fresh array.
 */
export function fromTfjs(t: TfjsTensorLike, options: FromTfjsOptions = {}): Tensor {
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof (t as { dataSync?: unknown }).dataSync !== 'function' ||
    !Array.isArray(t.shape)
  ) {
    throw typeError('fromTfjs: tensor', 'a tf.Tensor (an object with shape and dataSync())', t);
  }
  checkOptionsObject('fromTfjs: options', options, optionKeys<FromTfjsOptions>()({ copy: true }));
  if (t.dtype !== undefined && t.dtype !== 'float32')
    throw typeError('fromTfjs: tensor.dtype', '"float32" (use t.toFloat() / tf.cast first)', t.dtype);
  const data = t.dataSync();
  if (!(data instanceof Float32Array)) throw typeError('fromTfjs: tensor.dataSync()', 'a Float32Array', data);
  const shape = [...t.shape];
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count)
    throw rangeError('fromTfjs: tensor.dataSync()', `${count} elements for shape ${formatShape(shape)}`, `${data.length}`);
  return { data: options.copy ? data.slice() : data, shape };
}

/**
 * Our Tensor → the arguments of tf.tensor(): `tf.tensor(...toTfjsArgs(t))`. TF.js's cpu
 * backend keeps the array it is given (no copy): do not write to t.data afterwards.
 */
export function toTfjsArgs(t: Tensor): [data: Float32Array, shape: number[], dtype: 'float32'] {
  if (typeof t !== 'object' || t === null || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
    throw typeError('toTfjsArgs: tensor', 'a tensor { data: Float32Array, shape }', t);
  }
  return [t.data, [...t.shape], 'float32'];
}
