// safetensors: read and write, no dependency.
//
// Format (https://github.com/huggingface/safetensors): 8 bytes little-endian u64 N, then
// N bytes of a JSON object { name: { dtype, shape, data_offsets: [begin, end] }, …,
// "__metadata__": { string: string } }, then the data bytes; offsets count from the
// first data byte. Tensors are row-major and little-endian.
//
// Reading: F32 tensors are zero-copy Float32Array views onto the file's bytes when
// their data is 4-byte aligned in memory (always so for files written by the reference
// implementation or by saveSafetensors), otherwise copied. F64, F16 and BF16 are
// converted to float32. BOOL and U8 load as Uint8Array tensors (masks, bytes), in
// `byteTensors`. Other dtypes are valid but not loadable here: a RangeError names them
// unless `skipUnsupported` or `filter` leaves them out.
import fs from 'node:fs';
import os from 'node:os';
import { describe, rangeError, typeError } from '../errors';
import { checkOptionsObject, optionKeys } from '../validate';
import type { Tensor } from '../tensor';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './float16';

/** Every dtype the safetensors format defines, and its size in bytes. */
const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'I64'
  | 'U64'
  | 'F64';

/** Dtypes loaded as float32 tensors. */
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
/** Dtypes loaded as Uint8Array tensors. */
const BYTE_DTYPES = new Set(['BOOL', 'U8']);

/** The reference implementation's limit on the header size (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = os.endianness() === 'LE';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end): byte offsets in the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header size). */
  dataStart: number;
}

export interface LoadSafetensorsOptions {
  /** Load only the tensors for which this returns true (the header is still checked in full). */
  filter?: (name: string, entry: SafetensorsEntry) => boolean;
  /** Leave out tensors whose dtype cannot be loaded (integers other than U8, float8) instead of throwing. */
  skipUnsupported?: boolean;
  /** Copy F32 data even when a zero-copy view is possible. */
  copy?: boolean;
}

export interface SafetensorsContents {
  /** Float tensors (F32, F16, BF16, F64), as float32. */
  tensors: Record<string, Tensor>;
  /** BOOL and U8 tensors (BOOL as 0 / 1). */
  byteTensors: Record<string, Tensor<Uint8Array>>;
  /** The "__metadata__" strings ({} when absent). */
  metadata: Record<string, string>;
  /** The stored dtype of every loaded tensor. */
  dtypes: Record<string, SafetensorsDtype>;
  /** Names left out by skipUnsupported. */
  skipped: string[];
}

const WHO = 'loadSafetensors';

function toBytes(arg: string, source: unknown): Uint8Array {
  if (typeof source === 'string') return fs.readFileSync(source);
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  throw typeError(arg, 'a file path, a Buffer / Uint8Array or an ArrayBuffer', source);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and checks a safetensors header: the length prefix, the JSON, every entry's
 * dtype / shape / data_offsets (in range, not overlapping, the size its shape and dtype
 * say) and the metadata.
 */
export function readSafetensorsHeader(source: string | Uint8Array | ArrayBuffer): SafetensorsHeader {
  return parseHeader(toBytes(`${WHO}: source`, source));
}

function parseHeader(bytes: Uint8Array): SafetensorsHeader {
  if (bytes.length < 8) throw rangeError(`${WHO}: file`, 'at least 8 bytes (the header length)', `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n < 2n || n > BigInt(MAX_HEADER_BYTES)) {
    throw rangeError(
      `${WHO}: header length`,
      `a length prefix between 2 and ${MAX_HEADER_BYTES} bytes (8-byte little-endian)`,
      `${n}`,
    );
  }
  const headerBytes = Number(n);
  if (8 + headerBytes > bytes.length) {
    throw rangeError(
      `${WHO}: header length`,
      `at most ${bytes.length - 8} bytes (what follows the length prefix)`,
      `${headerBytes}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    throw rangeError(`${WHO}: header`, 'UTF-8 JSON', 'bytes that are not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw rangeError(`${WHO}: header`, 'a JSON object', `text that is not JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(json)) throw typeError(`${WHO}: header`, 'a JSON object', json);

  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const entries: Record<string, SafetensorsEntry> = {};
  const metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) throw typeError(`${WHO}: __metadata__`, 'an object of strings', raw);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw typeError(`${WHO}: __metadata__.${k}`, 'a string', v);
        metadata[k] = v;
      }
      continue;
    }
    const arg = `${WHO}: tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(raw)) throw typeError(arg, 'an object { dtype, shape, data_offsets }', raw);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (dtype === undefined) throw typeError(`${arg}: dtype`, 'a dtype string', dtype);
    if (typeof dtype !== 'string') throw typeError(`${arg}: dtype`, 'a dtype string', dtype);
    const size = DTYPE_SIZES[dtype];
    if (size === undefined) {
      throw rangeError(`${arg}: dtype`, `a safetensors dtype (${Object.keys(DTYPE_SIZES).join(', ')})`, JSON.stringify(dtype));
    }
    if (!Array.isArray(shape)) throw typeError(`${arg}: shape`, 'an array of non-negative integers', shape);
    let count = 1;
    for (let i = 0; i < shape.length; i++) {
      if (!isIndex(shape[i])) throw rangeError(`${arg}: shape[${i}]`, 'a non-negative integer', describe(shape[i]));
      count *= shape[i] as number;
    }
    if (!Array.isArray(offsets)) throw typeError(`${arg}: data_offsets`, 'an array [begin, end]', offsets);
    if (offsets.length !== 2 || !isIndex(offsets[0]) || !isIndex(offsets[1])) {
      throw rangeError(`${arg}: data_offsets`, '[begin, end] of two non-negative integers', JSON.stringify(offsets));
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw rangeError(`${arg}: data_offsets`, 'begin <= end', `[${begin}, ${end}]`);
    if (end > dataBytes) {
      throw rangeError(`${arg}: data_offsets`, `offsets within the ${dataBytes} data bytes`, `[${begin}, ${end}]`);
    }
    if (end - begin !== count * size) {
      throw rangeError(
        `${arg}: data_offsets`,
        `${count * size} bytes for shape [${shape.join(', ')}] of ${dtype}`,
        `${end - begin} bytes ([${begin}, ${end}])`,
      );
    }
    entries[name] = { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
    spans.push([begin, end, name]);
  }
  // Overlap: sorted by begin, each non-empty span must start at or after the furthest end so far.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let reach: [number, number, string] | null = null;
  for (const span of spans) {
    const [begin, end, name] = span;
    if (begin === end) continue;
    if (reach && begin < reach[1]) {
      throw rangeError(
        `${WHO}: tensor ${JSON.stringify(name)}: data_offsets`,
        'bytes not shared with another tensor',
        `[${begin}, ${end}], overlapping ${JSON.stringify(reach[2])} at [${reach[0]}, ${reach[1]}]`,
      );
    }
    if (!reach || end > reach[1]) reach = span;
  }
  return { entries, metadata, dataStart };
}

/**
 * Reads a safetensors file (path) or its bytes. F32 tensors are views onto those bytes
 * when aligned (no copy: writing to one writes to the buffer, and one tensor kept alive
 * keeps the whole buffer alive); pass `copy: true` for independent arrays.
 */
export function loadSafetensors(
  source: string | Uint8Array | ArrayBuffer,
  options: LoadSafetensorsOptions = {},
): SafetensorsContents {
  if (!isPlainObject(options)) throw typeError(`${WHO}: options`, 'an options object', options);
  checkOptionsObject(
    `${WHO}: options`,
    options,
    optionKeys<LoadSafetensorsOptions>()({ filter: true, skipUnsupported: true, copy: true }),
  );
  if (options.filter !== undefined && typeof options.filter !== 'function')
    throw typeError(`${WHO}: filter`, 'a function', options.filter);
  const bytes = toBytes(`${WHO}: source`, source);
  const header = parseHeader(bytes);
  const out: SafetensorsContents = { tensors: {}, byteTensors: {}, metadata: header.metadata, dtypes: {}, skipped: [] };
  for (const [name, entry] of Object.entries(header.entries)) {
    if (options.filter && !options.filter(name, entry)) continue;
    const { dtype, shape } = entry;
    const start = bytes.byteOffset + header.dataStart + entry.dataOffsets[0];
    const byteLength = entry.dataOffsets[1] - entry.dataOffsets[0];
    const count = byteLength / DTYPE_SIZES[dtype]!;
    if (BYTE_DTYPES.has(dtype)) {
      const view = new Uint8Array(bytes.buffer, start, count);
      out.byteTensors[name] = { data: options.copy ? view.slice() : view, shape };
    } else if (FLOAT_DTYPES.has(dtype)) {
      out.tensors[name] = { data: readFloat(bytes.buffer, start, count, dtype, options.copy === true), shape };
    } else if (options.skipUnsupported) {
      out.skipped.push(name);
      continue;
    } else {
      throw rangeError(
        `${WHO}: tensor ${JSON.stringify(name)}: dtype`,
        'F32, F16, BF16, F64, BOOL or U8 (pass skipUnsupported: true or a filter to leave it out)',
        JSON.stringify(dtype),
      );
    }
    out.dtypes[name] = dtype;
  }
  return out;
}

function readFloat(buffer: ArrayBufferLike, start: number, count: number, dtype: string, copy: boolean): Float32Array {
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN && start % 4 === 0) {
      const view = new Float32Array(buffer, start, count);
      return copy ? view.slice() : view;
    }
    const out = new Float32Array(count);
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(new Uint8Array(buffer, start, count * 4));
    else {
      const dv = new DataView(buffer, start, count * 4);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    }
    return out;
  }
  if (dtype === 'F64') {
    const out = new Float32Array(count);
    const dv = new DataView(buffer, start, count * 8);
    for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
    return out;
  }
  // F16 / BF16: 16-bit patterns, little-endian.
  let bits: Uint16Array;
  if (LITTLE_ENDIAN && start % 2 === 0) bits = new Uint16Array(buffer, start, count);
  else {
    bits = new Uint16Array(count);
    const dv = new DataView(buffer, start, count * 2);
    for (let i = 0; i < count; i++) bits[i] = dv.getUint16(i * 2, true);
  }
  return dtype === 'F16' ? float16ToFloat32(bits) : bfloat16ToFloat32(bits);
}

/** A tensor to save: float32 data stored as F32 (default), F16 or BF16; Uint8Array data as U8 (default) or BOOL. */
export type SaveableTensor = (Tensor & { dtype?: 'F32' | 'F16' | 'BF16' }) | (Tensor<Uint8Array> & { dtype?: 'U8' | 'BOOL' });

export interface SaveSafetensorsOptions {
  /** Store every float32 tensor without its own dtype as this (default 'F32'). */
  dtype?: 'F32' | 'F16' | 'BF16';
}

const SAVE = 'saveSafetensors';

/**
 * Serializes tensors (and string metadata) as safetensors, the way the reference
 * implementation does: tensors ordered by dtype size (largest first) then name, the
 * header padded with spaces to a multiple of 8 bytes so every tensor is aligned.
 * Writes the file when `path` is given; returns the bytes either way.
 */
export function saveSafetensors(
  tensors: Record<string, SaveableTensor>,
  path?: string | null,
  metadata?: Record<string, string> | null,
  options: SaveSafetensorsOptions = {},
): Uint8Array {
  // Declared as Uint8Array (it is a Node Buffer at run time) so that the published types
  // do not require @types/node.
  if (!isPlainObject(tensors) || ArrayBuffer.isView(tensors))
    throw typeError(`${SAVE}: tensors`, 'an object of tensors keyed by name', tensors);
  if (path !== undefined && path !== null && typeof path !== 'string')
    throw typeError(`${SAVE}: path`, 'a file path string', path);
  if (!isPlainObject(options)) throw typeError(`${SAVE}: options`, 'an options object', options);
  checkOptionsObject(`${SAVE}: options`, options, optionKeys<SaveSafetensorsOptions>()({ dtype: true }));
  const defaultFloat: unknown = options.dtype ?? 'F32';
  if (typeof defaultFloat !== 'string' || !['F32', 'F16', 'BF16'].includes(defaultFloat))
    throw rangeError(`${SAVE}: options.dtype`, '"F32", "F16" or "BF16"', describe(defaultFloat));

  const items: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const arg = `${SAVE}: ${JSON.stringify(name)}`;
    if (name === '__metadata__') throw rangeError(`${SAVE}: tensor name`, 'any name but "__metadata__"', '"__metadata__"');
    if (!isPlainObject(t) || ArrayBuffer.isView(t)) throw typeError(arg, 'a tensor { data, shape }', t);
    const { data, shape } = t as { data: unknown; shape: unknown };
    if (!Array.isArray(shape)) throw typeError(`${arg}.shape`, 'an array of non-negative integers', shape);
    let count = 1;
    for (let i = 0; i < shape.length; i++) {
      if (!isIndex(shape[i])) throw rangeError(`${arg}.shape[${i}]`, 'a non-negative integer', describe(shape[i]));
      count *= shape[i] as number;
    }
    let dtype = (t as { dtype?: unknown }).dtype;
    let bytes: Uint8Array;
    if (data instanceof Float32Array) {
      dtype ??= defaultFloat;
      if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16')
        throw rangeError(`${arg}.dtype`, '"F32", "F16" or "BF16" for float32 data', describe(dtype));
      if (data.length !== count)
        throw rangeError(`${arg}.data`, `${count} elements for shape [${shape.join(', ')}]`, `${data.length}`);
      if (dtype === 'F32') bytes = float32Bytes(data);
      else {
        const half = dtype === 'F16' ? float32ToFloat16(data) : float32ToBfloat16(data);
        bytes = uint16Bytes(half);
      }
    } else if (data instanceof Uint8Array) {
      dtype ??= 'U8';
      if (dtype !== 'U8' && dtype !== 'BOOL')
        throw rangeError(`${arg}.dtype`, '"U8" or "BOOL" for Uint8Array data', describe(dtype));
      if (data.length !== count)
        throw rangeError(`${arg}.data`, `${count} elements for shape [${shape.join(', ')}]`, `${data.length}`);
      bytes = dtype === 'BOOL' ? data.map((v) => (v ? 1 : 0)) : data;
    } else throw typeError(`${arg}.data`, 'a Float32Array or a Uint8Array', data);
    items.push({ name, dtype: dtype as string, shape: [...(shape as number[])], bytes });
  }
  items.sort((a, b) => DTYPE_SIZES[b.dtype]! - DTYPE_SIZES[a.dtype]! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) throw typeError(`${SAVE}: metadata`, 'an object of strings', metadata);
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw typeError(`${SAVE}: metadata.${k}`, 'a string', v);
    if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [offset, offset + it.bytes.length] };
    offset += it.bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);

  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.length;
  }
  if (typeof path === 'string') fs.writeFileSync(path, out);
  return out;
}

function float32Bytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i]!, true);
  return out;
}

function uint16Bytes(data: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, data[i]!, true);
  return out;
}
