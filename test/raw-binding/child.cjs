// Child process for raw-binding.test.ts: drives the RAW native module (no lib/ checks in
// front of it) with lying sizes and the wrong kinds of arguments, and with hazards such as
// a worker terminated mid-call. Run as:
//   node child.cjs cases            → one JSON line per case on stdout, then exit 0
//   node child.cjs scenario <name>  → one JSON line with the scenario's findings
// A crash (signal, abort, non-zero exit) is what the parent test looks for.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const BINARY =
  process.env.NATIVE_ATTENTION_BINARY ||
  path.resolve(__dirname, '..', '..', 'build', 'Release', 'native_attention.node');
const native = require(BINARY);
// The raw functions take their arguments positionally, in the order of native.argNames
// (lib/binding.ts packs them the same way): P lists a named arguments object in that
// order, so the cases below read by name.
// Arguments a case leaves out take these values (the newer options, off); a case that
// names one, even as undefined, passes what it names.
const DEFAULTS = { rotaryDim: 0, rotaryInterleaved: false, rotaryInvFreq: null, slidingWindow: 0, cache: null, cacheRows: null };
const P = (entry, o) => native.argNames[entry].map((n) => (n in o ? o[n] : DEFAULTS[n]));

const f32 = (n, seed = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(0.37 * i + seed);
  return a;
};
const detached = (a) => {
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
};
class LyingF32 extends Float32Array {
  get length() {
    return 1e6;
  }
}

// ---------------------------------------------------------------------------------------
// The argument lists, valid first; each case overrides some positions.

// new MultiHeadAttention({ E=8, H=2, Dk=4, Dv=3, kdim=6, vdim=5, O=7, useBias, scale })
const LAYER = { embedDim: 8, numHeads: 2, numKvHeads: 2, keyDim: 4, valueDim: 3, kdim: 6, vdim: 5, outputDim: 7, useBias: true, scale: 0.5 };
const layer = new native.MultiHeadAttention(...P('layer', LAYER));
// Raw layers start with zero weights: give this one some, so "still works" means something.
for (const [i, [name, n]] of [['wq', 8 * 8], ['bq', 8], ['wk', 6 * 8], ['bk', 8], ['wv', 5 * 6], ['bv', 6], ['wo', 6 * 7], ['bo', 7]].entries()) {
  layer.setWeight(name, f32(n, 10 + i));
}
const noBias = new native.MultiHeadAttention(
  ...P('layer', { ...LAYER, keyDim: 4, valueDim: 4, kdim: 8, vdim: 8, outputDim: 8, useBias: false }),
);
// forward: q [2,3,8], k [2,4,6], v [2,4,5], B=2, Lq=3, Lk=4 → out [2,3,7], weightsOut [2,2,3,4]
const NO_MASK = { mask: null, maskStrides: [0, 0, 0, 0], causal: false, keyLengths: null, weightsOut: null };
const fwd = () => ({ query: f32(48), key: f32(48, 2), value: f32(40, 3), batch: 2, queryLength: 3, keyLength: 4, ...NO_MASK, out: new Float32Array(42) });
// sdpa: q [1,2,3,4], k [1,2,5,4], v [1,2,5,6], B=1, H=2, Lq=3, Lk=5, Dk=4, Dv=6 → out [1,2,3,6], weightsOut [1,2,3,5]
const sdpa = () => ({
  q: f32(24), k: f32(40, 2), v: f32(60, 3), batch: 1, heads: 2, queryLength: 3, keyLength: 5, keyDim: 4, valueDim: 6, scale: 0.5,
  ...NO_MASK, out: new Float32Array(36),
});
// matmul: a [2,3], b [3,4] → out [2,4]
const mm = () => ({ a: f32(6), b: f32(12, 2), out: new Float32Array(8), M: 2, N: 4, K: 3 });

const F = (changes) => () => layer.forward(...P('forward', { ...fwd(), ...changes }));
// One packed row: q = k [1,3,8] (kdim 6 for keys, vdim 5 for values), B=1, Lq=Lk=3 → out [1,3,7]
const packed = (changes) => ({
  ...fwd(), query: f32(24), key: f32(18, 2), value: f32(15, 3), batch: 1, queryLength: 3, keyLength: 3, out: new Float32Array(21), ...changes,
});
const FA = (changes) => () => layer.forwardAsync(...P('forward', { ...fwd(), ...changes }));
const S = (changes) => () => native.scaledDotProductAttention(...P('sdpa', { ...sdpa(), ...changes }));
const SA = (changes) => () => native.scaledDotProductAttentionAsync(...P('sdpa', { ...sdpa(), ...changes }));
const M = (changes) => () => native.matmul(...P('matmul', { ...mm(), ...changes }));
const L = (changes) => () => new native.MultiHeadAttention(...P('layer', { ...LAYER, ...changes }));

// [name, call, expect]: expect 'error' (TypeError/RangeError, thrown or rejected) or 'ok'
// (a valid control call). A case accepted today that should be refused can be marked
// 'known-bug:<what>': the parent then runs it as an it.fails.
// A decoder layer for the cache cases: self-attention E=8, H=2, one key/value head of 4,
// rotary over all 4 features, sliding window 3. A cache of 2 rows × 5 tokens.
const DECODER = {
  embedDim: 8, numHeads: 2, numKvHeads: 1, keyDim: 4, valueDim: 4, kdim: 8, vdim: 8, outputDim: 8, useBias: false, scale: 0.5,
  rotaryDim: 4, rotaryInterleaved: false, rotaryInvFreq: new Float64Array([1, 0.01]), slidingWindow: 3,
};
const decoder = new native.MultiHeadAttention(...P('layer', DECODER));
for (const [i, [name, n]] of [['wq', 64], ['wk', 32], ['wv', 32], ['wo', 64]].entries()) decoder.setWeight(name, f32(n, 20 + i));
const other = new native.MultiHeadAttention(...P('layer', DECODER));
const newCache = (changes = {}) => new native.AttentionCache(...P('cache', { layer: decoder, batch: 2, maxLength: 5, ...changes }));
const C = newCache;
// One step for both rows: x [2, 1, 8] → out [2, 1, 8].
const step = (cache, changes = {}) => {
  const x = f32(16, 7);
  return { ...fwd(), query: x, key: x, value: x, batch: 2, queryLength: 1, keyLength: 1, causal: true, out: new Float32Array(16), cache, ...changes };
};
const D = (changes, cache = newCache()) => () => decoder.forward(...P('forward', step(cache, changes)));
const full = () => {
  const c = newCache();
  for (let i = 0; i < 5; i++) decoder.forward(...P('forward', step(c)));
  return c;
};

const cases = [
  // ---- controls: the same arrays, valid --------------------------------------------
  ['control: forward valid', F({}), 'ok'],
  ['control: forward valid, async', FA({}), 'ok'],
  ['control: forward with weightsOut', F({ weightsOut: new Float32Array(48) }), 'ok'],
  ['control: sdpa valid', S({}), 'ok'],
  ['control: sdpa valid, async', SA({}), 'ok'],
  ['control: matmul valid', M({}), 'ok'],
  ['control: bool mask [B,H,Lq,Lk] strides', F({ mask: new Uint8Array(48).fill(1), maskStrides: [24, 12, 4, 1] }), 'ok'],
  ['control: mask strides all 0 (scalar)', F({ mask: new Uint8Array(1).fill(1) }), 'ok'],

  // ---- MultiHeadAttention constructor ------------------------------------------------
  ['layer: no arguments', () => new native.MultiHeadAttention(), 'error'],
  ['layer: arguments an array', () => new native.MultiHeadAttention([8, 2, 4, 3, 6, 5, 7, true, 0.5]), 'error'],
  ['layer: called without new', () => native.MultiHeadAttention(LAYER), 'error'],
  ['layer: embedDim 0', L({ embedDim: 0 }), 'error'],
  ['layer: embedDim -8', L({ embedDim: -8 }), 'error'],
  ['layer: embedDim 1.5', L({ embedDim: 1.5 }), 'error'],
  ['layer: embedDim NaN', L({ embedDim: NaN }), 'error'],
  ['layer: embedDim Infinity', L({ embedDim: Infinity }), 'error'],
  ['layer: embedDim 2^31', L({ embedDim: 2 ** 31 }), 'error'],
  ['layer: embedDim "8"', L({ embedDim: '8' }), 'error'],
  ['layer: embedDim 8n (BigInt)', L({ embedDim: 8n }), 'error'],
  ['layer: numHeads·keyDim 2^60 (H·(2Dk+Dv) > 2^31)', L({ numHeads: 2 ** 30, keyDim: 2 ** 30 }), 'error'],
  ['layer: 2^34 parameters (E = kdim = vdim = O = 2^16)', L({ embedDim: 2 ** 16, numHeads: 1, keyDim: 2 ** 16, valueDim: 2 ** 16, kdim: 2 ** 16, vdim: 2 ** 16, outputDim: 2 ** 16 }), 'error'],
  ['layer: outputDim 2^31 - 1 (weights beyond 2^40)', L({ outputDim: 2 ** 31 - 1 }), 'error'],
  ['layer: useBias "yes"', L({ useBias: 'yes' }), 'error'],
  ['layer: numKvHeads 3 (not dividing numHeads 2)', L({ numKvHeads: 3 }), 'error'],
  ['layer: numKvHeads 0', L({ numKvHeads: 0 }), 'error'],
  ['layer: numKvHeads "1"', L({ numKvHeads: '1' }), 'error'],
  ['control: layer numKvHeads 1 (multi-query)', L({ numKvHeads: 1 }), 'ok'],
  ['forward: weightsOut on a multi-query layer', () => new native.MultiHeadAttention(...P('layer', { ...LAYER, numKvHeads: 1 })).forward(...P('forward', { ...fwd(), weightsOut: new Float32Array(48) })), 'error'],
  ['layer: scale NaN', L({ scale: NaN }), 'error'],
  ['layer: scale -Infinity', L({ scale: -Infinity }), 'error'],
  ['layer: scale missing', L({ scale: undefined }), 'error'],
  ['layer: scale 1e39 (finite double, not a float32)', L({ scale: 1e39 }), 'error'],
  ['layer: scale -3.5e38', L({ scale: -3.5e38 }), 'error'],
  ['control: layer scale 3.4e38 (largest float32 range)', L({ scale: 3.4e38 }), 'ok'],

  // ---- setWeight / getWeight ---------------------------------------------------------
  ['setWeight: name "wx"', () => layer.setWeight(...P('setWeight', { name: 'wx', data: f32(64) })), 'error'],
  ['setWeight: name 0 (a number)', () => layer.setWeight(...P('setWeight', { name: 0, data: f32(64) })), 'error'],
  ['setWeight: name missing', () => layer.setWeight(...P('setWeight', { data: f32(64) })), 'error'],
  ['setWeight: arguments as one object', () => layer.setWeight({ name: 'wq', data: f32(64) }), 'error'],
  ['setWeight: three arguments', () => layer.setWeight('wq', f32(64), 1), 'error'],
  ['setWeight: no data', () => layer.setWeight(...P('setWeight', { name: 'wq' })), 'error'],
  ['setWeight: wq data 31 < 8·8', () => layer.setWeight(...P('setWeight', { name: 'wq', data: f32(31) })), 'error'],
  ['setWeight: wq data 65 > 8·8', () => layer.setWeight(...P('setWeight', { name: 'wq', data: f32(65) })), 'error'],
  ['setWeight: wq a Float64Array', () => layer.setWeight(...P('setWeight', { name: 'wq', data: new Float64Array(64) })), 'error'],
  ['setWeight: wq a plain array', () => layer.setWeight(...P('setWeight', { name: 'wq', data: new Array(64).fill(0) })), 'error'],
  ['setWeight: wq detached', () => layer.setWeight(...P('setWeight', { name: 'wq', data: detached(f32(64)) })), 'error'],
  ['setWeight: wq length-lying subclass (8 real)', () => layer.setWeight(...P('setWeight', { name: 'wq', data: new LyingF32(8) })), 'error'],
  ['setWeight: bias on a useBias: false layer', () => noBias.setWeight(...P('setWeight', { name: 'bq', data: f32(8) })), 'error'],
  ['getWeight: out 3 < 8·8', () => layer.getWeight(...P('getWeight', { name: 'wq', out: new Float32Array(3) })), 'error'],
  ['getWeight: out an Int32Array', () => layer.getWeight(...P('getWeight', { name: 'wq', out: new Int32Array(64) })), 'error'],
  ['getWeight: name "wz"', () => layer.getWeight(...P('getWeight', { name: 'wz', out: new Float32Array(64) })), 'error'],
  ['forward on a plain object (this not a layer)', () => native.MultiHeadAttention.prototype.forward.call({}, fwd()), 'error'],
  ['forward on an object inheriting from a layer', () => native.MultiHeadAttention.prototype.forward.call(Object.create(layer), fwd()), 'error'],
  ['setWeight with this = 5', () => native.MultiHeadAttention.prototype.setWeight.call(5, { name: 'wq', data: f32(64) }), 'error'],

  // ---- forward: counts and sizes -----------------------------------------------------
  ['forward: no arguments', () => layer.forward(), 'error'],
  ['forward: arguments null', () => layer.forward(null), 'error'],
  ['forward: arguments a Float32Array', () => layer.forward(f32(48)), 'error'],
  ['forward: too few arguments', () => layer.forward(f32(48), f32(48, 2), f32(40, 3), 2, 3, 4), 'error'],
  ['forward: one more argument than the table has', () => layer.forward(...P('forward', fwd()), null), 'error'],
  ['forward: arguments as one object (named)', () => layer.forward(fwd()), 'error'],
  ['forward: an arguments array with a hole', () => { const a = P('forward', fwd()); delete a[3]; return layer.forward(...a); }, 'error'],
  ['forward: maskStrides of 3', F({ mask: new Uint8Array(4), maskStrides: [0, 0, 0] }), 'error'],
  ['forward: maskStrides not an array', F({ mask: new Uint8Array(4), maskStrides: 0 }), 'error'],
  ['forward: batch 0', F({ batch: 0 }), 'error'],
  ['forward: batch -1', F({ batch: -1 }), 'error'],
  ['forward: batch 1.5', F({ batch: 1.5 }), 'error'],
  ['forward: batch NaN', F({ batch: NaN }), 'error'],
  ['forward: batch "2"', F({ batch: '2' }), 'error'],
  ['forward: batch 2^31 (beyond BLAS int)', F({ batch: 2 ** 31 }), 'error'],
  ['forward: batch 2^53', F({ batch: 2 ** 53 }), 'error'],
  ['forward: queryLength 2^31 - 1 (B·Lq·E ≈ 2^35 vs 48 real)', F({ queryLength: 2 ** 31 - 1 }), 'error'],
  ['forward: B = Lq = 2^31 - 1 (product > 2^40)', F({ batch: 2 ** 31 - 1, queryLength: 2 ** 31 - 1 }), 'error'],
  ['forward: keyLength 5 with 4 rows of key', F({ keyLength: 5 }), 'error'],
  ['forward: query 47 < B·Lq·E', F({ query: f32(47) }), 'error'],
  ['forward: query 49 > B·Lq·E', F({ query: f32(49) }), 'error'],
  ['forward: key 47 < B·Lk·kdim', F({ key: f32(47) }), 'error'],
  ['forward: value 39 < B·Lk·vdim', F({ value: f32(39) }), 'error'],
  ['forward: query length-lying subclass', F({ query: new LyingF32(4) }), 'error'],
  ['forward: query a Float64Array', F({ query: new Float64Array(48) }), 'error'],
  ['forward: query a Uint8Array of 192 bytes', F({ query: new Uint8Array(192) }), 'error'],
  ['forward: query a DataView', F({ query: new DataView(new ArrayBuffer(192)) }), 'error'],
  ['forward: query a plain array', F({ query: new Array(48).fill(0) }), 'error'],
  ['forward: query an ArrayBuffer', F({ query: new ArrayBuffer(192) }), 'error'],
  ['forward: query a Proxy of a Float32Array', F({ query: new Proxy(f32(48), {}) }), 'error'],
  ['forward: query null', F({ query: null }), 'error'],
  ['forward: query detached', F({ query: detached(f32(48)) }), 'error'],
  ['forward: out 41 < B·Lq·O', F({ out: new Float32Array(41) }), 'error'],
  ['forward: out null', F({ out: null }), 'error'],
  ['forward: out a Float64Array', F({ out: new Float64Array(42) }), 'error'],
  ['forward: out detached', F({ out: detached(new Float32Array(42)) }), 'error'],
  ['forward: weightsOut 47 < B·H·Lq·Lk', F({ weightsOut: new Float32Array(47) }), 'error'],
  ['forward: weightsOut an Int32Array', F({ weightsOut: new Int32Array(48) }), 'error'],
  ['forward: causal 1', F({ causal: 1 }), 'error'],
  ['forward: causal undefined', F({ causal: undefined }), 'error'],
  // mask: strides that lie
  ['forward: mask an Int8Array', F({ mask: new Int8Array(4) }), 'error'],
  ['forward: mask a Uint8ClampedArray', F({ mask: new Uint8ClampedArray(4) }), 'error'],
  ['forward: mask a Float64Array', F({ mask: new Float64Array(4) }), 'error'],
  ['forward: mask a plain array', F({ mask: [1, 1, 1, 1] }), 'error'],
  ['forward: mask of 0 elements', F({ mask: new Uint8Array(0) }), 'error'],
  ['forward: mask detached', F({ mask: detached(new Uint8Array(4)), maskStrides: [0, 0, 0, 1] }), 'error'],
  ['forward: mask stride key 1 over 3 elements (Lk = 4)', F({ mask: new Uint8Array(3), maskStrides: [0, 0, 0, 1] }), 'error'],
  ['forward: mask stride query 4 over 11 elements', F({ mask: new Uint8Array(11), maskStrides: [0, 0, 4, 1] }), 'error'],
  ['forward: mask [B,H,Lq,Lk] strides over 47 elements', F({ mask: new Uint8Array(47), maskStrides: [24, 12, 4, 1] }), 'error'],
  ['forward: float mask strides over 47 elements', F({ mask: new Float32Array(47), maskStrides: [24, 12, 4, 1] }), 'error'],
  ['forward: mask stride batch 2^53', F({ mask: new Uint8Array(4), maskStrides: [2 ** 53, 0, 0, 0] }), 'error'],
  ['forward: mask stride batch 2^53 + 2 (> 2^53)', F({ mask: new Uint8Array(4), maskStrides: [2 ** 53 + 2, 0, 0, 0] }), 'error'],
  ['forward: mask stride key -1 (negative)', F({ mask: new Uint8Array(4), maskStrides: [0, 0, 0, -1] }), 'error'],
  ['forward: mask stride query -4 (negative)', F({ mask: new Uint8Array(48), maskStrides: [0, 0, -4, 1] }), 'error'],
  ['forward: mask stride head 0.5', F({ mask: new Uint8Array(48), maskStrides: [0, 0.5, 0, 0] }), 'error'],
  ['forward: mask stride NaN', F({ mask: new Uint8Array(48), maskStrides: [0, NaN, 0, 0] }), 'error'],
  ['forward: mask stride "1"', F({ mask: new Uint8Array(48), maskStrides: [0, 0, 0, '1'] }), 'error'],
  ['forward: mask strides missing', F({ mask: new Uint8Array(4), maskStrides: [undefined, 0, 0, 0] }), 'error'],
  // keyLengths
  ['forward: keyLengths [5, 1] (> Lk = 4)', F({ keyLengths: new Int32Array([5, 1]) }), 'error'],
  ['forward: keyLengths [-1, 1]', F({ keyLengths: new Int32Array([-1, 1]) }), 'error'],
  ['forward: keyLengths [INT32_MIN, 0]', F({ keyLengths: new Int32Array([-(2 ** 31), 0]) }), 'error'],
  ['forward: keyLengths [INT32_MAX, 0]', F({ keyLengths: new Int32Array([2 ** 31 - 1, 0]) }), 'error'],
  ['forward: keyLengths 1 entry for B = 2', F({ keyLengths: new Int32Array([1]) }), 'error'],
  ['forward: keyLengths a Uint32Array', F({ keyLengths: new Uint32Array([1, 1]) }), 'error'],
  ['forward: keyLengths a Float32Array', F({ keyLengths: new Float32Array([1, 1]) }), 'error'],
  ['forward: keyLengths a plain array', F({ keyLengths: [1, 1] }), 'error'],
  ['forward: keyLengths detached', F({ keyLengths: detached(new Int32Array([1, 1])) }), 'error'],

  // sequenceLengths (packed sequences: batch 1, queryLength = keyLength = their sum)
  ['control: sequenceLengths [1, 2]', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([1, 2]) }))), 'ok'],
  ['control: sequenceLengths async', () => layer.forwardAsync(...P('forward', packed({ sequenceLengths: new Int32Array([2, 1]) }))), 'ok'],
  ['forward: sequenceLengths with batch 2', F({ sequenceLengths: new Int32Array([3]) }), 'error'],
  ['forward: sequenceLengths summing to 4 of 3', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([2, 2]) }))), 'error'],
  ['forward: sequenceLengths [0, 3]', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([0, 3]) }))), 'error'],
  ['forward: sequenceLengths [INT32_MIN, 3]', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([-(2 ** 31), 3]) }))), 'error'],
  ['forward: sequenceLengths [INT32_MAX, INT32_MAX] (sum overflows int32)', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([2 ** 31 - 1, 2 ** 31 - 1]) }))), 'error'],
  ['forward: sequenceLengths empty', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array(0) }))), 'error'],
  ['forward: sequenceLengths a plain array', () => layer.forward(...P('forward', packed({ sequenceLengths: [3] }))), 'error'],
  ['forward: sequenceLengths with keyLengths', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([3]), keyLengths: new Int32Array([3]) }))), 'error'],
  ['forward: sequenceLengths with weightsOut', () => layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array([3]), weightsOut: new Float32Array(18) }))), 'error'],
  ['forward: out overlapping sequenceLengths', () => { const b = new ArrayBuffer(1024); return layer.forward(...P('forward', packed({ sequenceLengths: new Int32Array(b, 0, 1).fill(3), out: new Float32Array(b, 0, 21) }))); }, 'error'],
  ['forward async: sequenceLengths summing to 4 of 3', () => layer.forwardAsync(...P('forward', packed({ sequenceLengths: new Int32Array([2, 2]) }))), 'error'],

  // ---- the same lies with async = true: must throw (or reject), never queue ----------
  ['forward async: query 47 < B·Lq·E', FA({ query: f32(47) }), 'error'],
  ['forward async: out too small', FA({ out: new Float32Array(1) }), 'error'],
  ['forward async: mask beyond its end', FA({ mask: new Uint8Array(3), maskStrides: [0, 0, 0, 1] }), 'error'],
  ['forward async: keyLengths out of range', FA({ keyLengths: new Int32Array([9, 9]) }), 'error'],
  ['forward async: batch 2^31', FA({ batch: 2 ** 31 }), 'error'],
  ['forward async: out detached', FA({ out: detached(new Float32Array(42)) }), 'error'],
  ['forward async: query a Float64Array', FA({ query: new Float64Array(48) }), 'error'],

  // ---- scaledDotProductAttention ---------------------------------------------------
  ['sdpa: no arguments', () => native.scaledDotProductAttention(), 'error'],
  ['sdpa: heads 0', S({ heads: 0 }), 'error'],
  ['sdpa: keyDim -4', S({ keyDim: -4 }), 'error'],
  ['sdpa: valueDim 2^31', S({ valueDim: 2 ** 31 }), 'error'],
  ['sdpa: B·H·Lq·Dk 2^62 with 24 real', S({ batch: 2 ** 31 - 1, heads: 2 ** 31 - 1 }), 'error'],
  ['sdpa: q 23 < B·H·Lq·Dk', S({ q: f32(23) }), 'error'],
  ['sdpa: k 39 < B·H·Lk·Dk', S({ k: f32(39) }), 'error'],
  ['sdpa: v 59 < B·H·Lk·Dv', S({ v: f32(59) }), 'error'],
  ['sdpa: keyLength 6 with 5 rows of k', S({ keyLength: 6 }), 'error'],
  ['sdpa: scale NaN', S({ scale: NaN }), 'error'],
  ['sdpa: scale "0.5"', S({ scale: '0.5' }), 'error'],
  ['sdpa: out 35 < B·H·Lq·Dv', S({ out: new Float32Array(35) }), 'error'],
  ['sdpa: weightsOut 29 < B·H·Lq·Lk', S({ weightsOut: new Float32Array(29) }), 'error'],
  ['sdpa: mask stride key 1 over 4 elements (Lk = 5)', S({ mask: new Uint8Array(4), maskStrides: [0, 0, 0, 1] }), 'error'],
  ['sdpa: mask stride head 15 over 15 elements', S({ mask: new Float32Array(15), maskStrides: [0, 15, 0, 0] }), 'error'],
  ['sdpa: mask stride key -1', S({ mask: new Uint8Array(5), maskStrides: [0, 0, 0, -1] }), 'error'],
  ['sdpa: keyLengths [6] (> Lk = 5)', S({ keyLengths: new Int32Array([6]) }), 'error'],
  ['sdpa: keyLengths [-1]', S({ keyLengths: new Int32Array([-1]) }), 'error'],
  ['sdpa: keyLengths 2 entries for B = 1', S({ keyLengths: new Int32Array([1, 1]) }), 'error'],
  ['sdpa async: q too short', SA({ q: f32(1) }), 'error'],
  ['sdpa async: mask beyond its end', SA({ mask: new Uint8Array(4), maskStrides: [0, 0, 0, 1] }), 'error'],
  ['sdpa async: keyLengths [6]', SA({ keyLengths: new Int32Array([6]) }), 'error'],
  ['sdpa: scale 1e39 (finite double, not a float32)', S({ scale: 1e39 }), 'error'],

  // ---- matmul ---------------------------------------------------------------------
  ['matmul: no arguments', () => native.matmul(), 'error'],
  ['matmul: M 0', M({ M: 0 }), 'error'],
  ['matmul: N -4', M({ N: -4 }), 'error'],
  ['matmul: K 2^31', M({ K: 2 ** 31 }), 'error'],
  ['matmul: M = N = 2^31 - 1 (out beyond 2^40)', M({ M: 2 ** 31 - 1, N: 2 ** 31 - 1 }), 'error'],
  ['matmul: a 5 < M·K', M({ a: f32(5) }), 'error'],
  ['matmul: b 11 < K·N', M({ b: f32(11) }), 'error'],
  ['matmul: out 7 < M·N', M({ out: new Float32Array(7) }), 'error'],
  ['matmul: out a Float64Array', M({ out: new Float64Array(8) }), 'error'],
  ['matmul: a detached', M({ a: detached(f32(6)) }), 'error'],
  ['matmul: K "3"', M({ K: '3' }), 'error'],

  // ---- threads ----------------------------------------------------------------------
  ['setNumThreads: no argument', () => native.setNumThreads(), 'error'],
  ['setNumThreads: 0', () => native.setNumThreads(0), 'error'],
  ['setNumThreads: 257', () => native.setNumThreads(257), 'error'],
  ['setNumThreads: NaN', () => native.setNumThreads(NaN), 'error'],
  ['setNumThreads: "2"', () => native.setNumThreads('2'), 'error'],

  // ---- rotary and sliding window (layer) ----------------------------------------------
  ['control: decoder layer (rotary, window)', () => new native.MultiHeadAttention(...P('layer', DECODER)), 'ok'],
  ['layer: rotaryDim 3 (odd)', L({ rotaryDim: 3, rotaryInvFreq: new Float64Array(1) }), 'error'],
  ['layer: rotaryDim 6 > keyDim 4', L({ rotaryDim: 6, rotaryInvFreq: new Float64Array(3) }), 'error'],
  ['layer: rotaryDim -2', L({ rotaryDim: -2 }), 'error'],
  ['layer: rotaryInvFreq of 1 for rotaryDim 4', L({ rotaryDim: 4, rotaryInvFreq: new Float64Array(1) }), 'error'],
  ['layer: rotaryInvFreq null for rotaryDim 4', L({ rotaryDim: 4, rotaryInvFreq: null }), 'error'],
  ['layer: rotaryInvFreq a Float32Array', L({ rotaryDim: 4, rotaryInvFreq: new Float32Array(2) }), 'error'],
  ['layer: rotaryInvFreq with NaN', L({ rotaryDim: 4, rotaryInvFreq: new Float64Array([1, NaN]) }), 'error'],
  ['layer: rotaryInvFreq with Infinity', L({ rotaryDim: 4, rotaryInvFreq: new Float64Array([Infinity, 1]) }), 'error'],
  ['layer: rotaryInterleaved 1', L({ rotaryInterleaved: 1 }), 'error'],
  ['layer: slidingWindow -1', L({ slidingWindow: -1 }), 'error'],
  ['layer: slidingWindow 2.5', L({ slidingWindow: 2.5 }), 'error'],
  ['layer: slidingWindow on a cross-attention layer (kdim 6)', L({ slidingWindow: 2 }), 'error'],
  ['forward: causal false on a sliding-window layer', () => decoder.forward(...P('forward', { ...step(null), batch: 2, queryLength: 1, keyLength: 1, causal: false })), 'error'],

  // ---- AttentionCache -----------------------------------------------------------------
  ['control: cache', () => C(), 'ok'],
  ['cache: layer a plain object', () => C({ layer: {} }), 'error'],
  ['cache: layer a cache', () => C({ layer: newCache() }), 'error'],
  ['cache: layer null', () => C({ layer: null }), 'error'],
  ['cache: batch 0', () => C({ batch: 0 }), 'error'],
  ['cache: maxLength 1.5', () => C({ maxLength: 1.5 }), 'error'],
  ['cache: maxLength 2^31', () => C({ maxLength: 2 ** 31 }), 'error'],
  ['cache: 2^31 × 2^31 rows × tokens (beyond any memory)', () => C({ batch: 2 ** 31 - 1, maxLength: 2 ** 31 - 1 }), 'error'],
  ['cache: called without new', () => native.AttentionCache(decoder, 2, 5), 'error'],
  ['cache: getLengths out of 3 for 2 rows', () => newCache().getLengths(new Int32Array(3)), 'error'],
  ['cache: getLengths a Float32Array', () => newCache().getLengths(new Float32Array(2)), 'error'],
  ['cache: truncate beyond the filled length', () => newCache().truncate(new Int32Array([1, 0])), 'error'],
  ['cache: truncate -1', () => full().truncate(new Int32Array([-1, 0])), 'error'],
  ['control: truncate a full cache to [2, 0]', () => full().truncate(new Int32Array([2, 0])), 'ok'],
  ['cache: getLengths on a plain object', () => native.AttentionCache.prototype.getLengths.call({}, new Int32Array(2)), 'error'],

  // ---- forward with a cache -----------------------------------------------------------
  ['control: decode step', D({}), 'ok'],
  ['control: decode step, async', () => decoder.forwardAsync(...P('forward', step(newCache()))), 'ok'],
  ['control: decode step for row 1 only (cacheRows)', () => {
    const x = f32(8, 3);
    decoder.forward(...P('forward', step(newCache(), { query: x, key: x, value: x, batch: 1, out: new Float32Array(8), cacheRows: new Int32Array([1]) })));
  }, 'ok'],
  ['forward: one row without cacheRows on a 2-row cache', () => {
    const x = f32(8, 3);
    decoder.forward(...P('forward', step(newCache(), { query: x, key: x, value: x, batch: 1, out: new Float32Array(8) })));
  }, 'error'],
  ['forward: cache a plain object', D({ cache: {} }), 'error'],
  ['forward: cache a layer', D({ cache: decoder }), 'error'],
  ['forward: cache made by another layer', D({ cache: new native.AttentionCache(...P('cache', { layer: other, batch: 2, maxLength: 5 })) }), 'error'],
  ['forward: cacheRows without a cache', F({ cacheRows: new Int32Array([0, 1]) }), 'error'],
  ['forward: cacheRows [0, 0] (twice)', D({ cacheRows: new Int32Array([0, 0]) }), 'error'],
  ['forward: cacheRows [0, 2] (no row 2)', D({ cacheRows: new Int32Array([0, 2]) }), 'error'],
  ['forward: cacheRows [-1, 0]', D({ cacheRows: new Int32Array([-1, 0]) }), 'error'],
  ['forward: cacheRows of 3 for 2 rows', D({ cacheRows: new Int32Array([0, 1, 0]) }), 'error'],
  ['forward: cacheRows a Float32Array', D({ cacheRows: new Float32Array([0, 1]) }), 'error'],
  ['forward: a step past maxLength', () => decoder.forward(...P('forward', step(full()))), 'error'],
  ['forward: key another array with a cache', D({ key: f32(16, 9) }), 'error'],
  ['forward: query of 15 for [2, 1, 8]', D({ query: f32(15), key: f32(15), value: f32(15) }), 'error'],
  ['forward: mask with a cache', D({ mask: new Uint8Array(1).fill(1) }), 'error'],
  ['forward: keyLengths with a cache', D({ keyLengths: new Int32Array([1, 1]) }), 'error'],
  ['forward: weightsOut with a cache', D({ weightsOut: new Float32Array(2 * 2 * 1 * 1) }), 'error'],
  ['forward: keyLength 2 ≠ queryLength 1 with a cache', D({ keyLength: 2 }), 'error'],
  ['forward: sequenceLengths [1, 1] with batch 2', D({ sequenceLengths: new Int32Array([1, 1]) }), 'error'],
  ['forward: cache on a cross-attention layer', F({ cache: newCache() }), 'error'],
  ['forward: a cache busy with an async call', () => {
    const c = newCache();
    decoder.forwardAsync(...P('forward', step(c))).catch(() => {});
    decoder.forward(...P('forward', step(c)));
  }, 'state-error'],
  ['cache: truncate while an async call appends', () => {
    const c = newCache();
    decoder.forwardAsync(...P('forward', step(c))).catch(() => {});
    c.truncate(new Int32Array(2));
  }, 'state-error'],
];

// A mask whose strides overflow int64 while its shape is real: Lk = 2^20 keys (4 MiB).
{
  const Lk = 2 ** 20;
  cases.push([
    'sdpa: mask stride key 2^53 with Lk = 2^20 (offset overflows int64)',
    () => native.scaledDotProductAttention(...P('sdpa', {
      q: f32(1), k: f32(Lk), v: f32(Lk), batch: 1, heads: 1, queryLength: 1, keyLength: Lk, keyDim: 1, valueDim: 1, scale: 1,
      ...NO_MASK, mask: new Uint8Array(8), maskStrides: [0, 0, 0, 2 ** 53], out: new Float32Array(1),
    })),
    'error',
  ]);
}

async function runCases() {
  const results = [];
  for (const [name, call, expect] of cases) {
    const r = { name, expect };
    try {
      const value = call();
      if (value && typeof value.then === 'function') {
        r.async = true;
        await value.then(
          () => (r.outcome = 'resolved'),
          (e) => Object.assign(r, { outcome: 'rejected', type: e?.constructor?.name, message: String(e?.message) }),
        );
      } else r.outcome = 'returned';
    } catch (e) {
      Object.assign(r, { outcome: 'threw', type: e?.constructor?.name, message: String(e?.message) });
    }
    results.push(r);
  }
  // The module still works after all of that.
  const out = new Float32Array(42);
  layer.forward(...P('forward', { ...fwd(), out }));
  const stillWorks = out.every(Number.isFinite) && out.some((x) => x !== 0);
  process.stdout.write(`${JSON.stringify({ results, stillWorks })}\n`);
}

// ---------------------------------------------------------------------------------------
// Hazard scenarios

// A layer and a self-attention call large enough to still be running when a hazard strikes.
const bigLayer = (E, heads = 4) =>
  P('layer', { embedDim: E, numHeads: heads, numKvHeads: heads, keyDim: 32, valueDim: 32, kdim: E, vdim: E, outputDim: E, useBias: true, scale: 0.17 });
const bigCall = (q, B, L, out) => P('forward', { query: q, key: q, value: q, batch: B, queryLength: L, keyLength: L, ...NO_MASK, out });

function bigLayerCall(nativeMod, count) {
  const E = 128;
  const B = 2;
  const L = 512;
  const l = new nativeMod.MultiHeadAttention(...bigLayer(E));
  const q = f32(B * L * E);
  const promises = [];
  for (let i = 0; i < count; i++) {
    promises.push(l.forwardAsync(...bigCall(q, B, L, new Float32Array(B * L * E))));
  }
  return promises;
}

const WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  const native = require(workerData.binary);
  const E = 128, B = 2, L = 512;
  const DEFAULTS = { rotaryDim: 0, rotaryInterleaved: false, rotaryInvFreq: null, slidingWindow: 0, cache: null, cacheRows: null };
  const P = (entry, o) => native.argNames[entry].map((n) => (n in o ? o[n] : DEFAULTS[n]));
  const l = new native.MultiHeadAttention(...P('layer', { embedDim: E, numHeads: 4, numKvHeads: 4, keyDim: 32, valueDim: 32, kdim: E, vdim: E, outputDim: E, useBias: true, scale: 0.17 }));
  const q = new Float32Array(B * L * E).map((_, i) => Math.sin(i));
  const call = { query: q, key: q, value: q, batch: B, queryLength: L, keyLength: L, mask: null, maskStrides: [0, 0, 0, 0], causal: false, keyLengths: null, weightsOut: null };
  for (let i = 0; i < 6; i++) l.forwardAsync(...P('forward', { ...call, out: new Float32Array(B * L * E) })).catch(() => {});
  if (workerData.exitInside) process.exit(3);
  parentPort.postMessage('started');
`;

const scenarios = {
  // process.exit() while async calls are running on libuv's pool.
  async 'exit-during-async'() {
    bigLayerCall(native, 6);
    setTimeout(() => process.exit(0), 5);
    await new Promise(() => {});
  },
  // worker.terminate() while the worker's async calls are running.
  async 'terminate-worker-during-async'() {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { binary: BINARY } });
    await new Promise((resolve) => w.once('message', resolve));
    await new Promise((r) => setTimeout(r, 5));
    const code = await w.terminate();
    await Promise.all(bigLayerCall(native, 1));
    return { workerExit: code };
  },
  // process.exit() inside a worker while its async calls are running.
  async 'exit-inside-worker-during-async'() {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { binary: BINARY, exitInside: true } });
    const code = await new Promise((resolve) => w.once('exit', resolve));
    await Promise.all(bigLayerCall(native, 1));
    return { workerExit: code };
  },
  // A resizable ArrayBuffer shrunk to 0 while the call reads it.
  async 'resize-input-during-async'() {
    const E = 128;
    const B = 2;
    const L = 512;
    const l = new native.MultiHeadAttention(...bigLayer(E));
    const buffer = new ArrayBuffer(B * L * E * 4, { maxByteLength: B * L * E * 4 });
    const q = new Float32Array(buffer);
    q.set(f32(B * L * E));
    const p = l.forwardAsync(...bigCall(q, B, L, new Float32Array(B * L * E)));
    buffer.resize(0);
    const outcome = await p.then(() => 'resolved', (e) => `rejected: ${e.message}`);
    return { outcome };
  },
  // An input's buffer transferred away mid-call; its new owner overwrites it with NaN.
  // Correct: the call computes from what it was given (a copy) or rejects; it must not
  // read memory that now belongs to someone else.
  async 'transfer-input-during-async'() {
    const B = 1;
    const H = 1;
    const Lq = 4096;
    const Lk = 1024;
    const D = 64;
    const q = f32(B * H * Lq * D);
    const k = f32(B * H * Lk * D, 2);
    const v = f32(B * H * Lk * D, 3);
    const out = new Float32Array(B * H * Lq * D);
    const p = native.scaledDotProductAttentionAsync(...P('sdpa', {
      q, k, v, batch: B, heads: H, queryLength: Lq, keyLength: Lk, keyDim: D, valueDim: D, scale: 0.125, ...NO_MASK, out,
    }));
    const stolen = new Float32Array(structuredClone(v.buffer, { transfer: [v.buffer] }));
    stolen.fill(NaN);
    const outcome = await p.then(() => 'resolved', (e) => `rejected: ${e.constructor.name}: ${e.message}`);
    let nan = 0;
    for (const x of out) if (Number.isNaN(x)) nan++;
    return { outcome, nanOutputs: nan, stolenStillNaN: stolen.every(Number.isNaN) };
  },
  // `out`'s buffer transferred away mid-call. Correct: the new owner's memory is not
  // written (the call rejects with a TypeError: out was detached).
  async 'transfer-out-during-async'() {
    const E = 128;
    const B = 2;
    const L = 512;
    const l = new native.MultiHeadAttention(...bigLayer(E));
    const q = f32(B * L * E);
    const out = new Float32Array(B * L * E);
    const p = l.forwardAsync(...bigCall(q, B, L, out));
    const stolen = new Float32Array(structuredClone(out.buffer, { transfer: [out.buffer] }));
    stolen.fill(NaN);
    const outcome = await p.then(() => 'resolved', (e) => `rejected: ${e.constructor.name}: ${e.message}`);
    let written = 0;
    for (const x of stolen) if (!Number.isNaN(x)) written++;
    return { outcome, stolenElementsWritten: written };
  },
  // An input transferred away and garbage-collected mid-call: a use-after-free, which
  // only AddressSanitizer sees reliably (scripts/test-asan.mjs runs it).
  async 'free-input-during-async'() {
    const promises = [];
    for (let r = 0; r < 4; r++) {
      const E = 256;
      const B = 2;
      const L = 1024;
      const l = new native.MultiHeadAttention(...bigLayer(E, 8));
      const q = f32(B * L * E);
      const out = new Float32Array(B * L * E);
      promises.push(l.forwardAsync(...bigCall(q, B, L, out)));
      structuredClone(q.buffer, { transfer: [q.buffer] });
      structuredClone(out.buffer, { transfer: [out.buffer] });
    }
    for (let i = 0; i < 10; i++) {
      if (global.gc) global.gc();
      new Float32Array(1 << 19).fill(7);
    }
    await Promise.allSettled(promises);
    return {};
  },
};

async function main() {
  const [mode, name] = process.argv.slice(2);
  if (mode === 'cases') return runCases();
  if (mode === 'scenario') {
    const run = scenarios[name];
    if (!run) throw new Error(`unknown scenario ${name}`);
    const result = await run();
    process.stdout.write(`${JSON.stringify({ scenario: name, ...result })}\n`);
    return undefined;
  }
  throw new Error('usage: child.cjs cases | scenario <name>');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`child failed: ${err?.stack}\n`);
    process.exit(2);
  },
);
