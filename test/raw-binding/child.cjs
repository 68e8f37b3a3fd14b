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

// AttentionLayer(E=8, H=2, Dk=4, Dv=3, kdim=6, vdim=5, O=7, useBias, scale)
const LAYER = [8, 2, 4, 3, 6, 5, 7, true, 0.5];
const layer = new native.AttentionLayer(...LAYER);
// Raw layers start with zero weights: give this one some, so "still works" means something.
[[0, 8 * 8], [1, 8], [2, 6 * 8], [3, 8], [4, 5 * 6], [5, 6], [6, 6 * 7], [7, 7]].forEach(([i, n]) => layer.setWeight(i, f32(n, 10 + i)));
const noBias = new native.AttentionLayer(8, 2, 4, 4, 8, 8, 8, false, 0.5);
// forward(q [2,3,8], k [2,4,6], v [2,4,5], B=2, Lq=3, Lk=4, mask, sb, sh, sq, sk, causal,
//         keyLengths, out [2,3,7], weightsOut [2,2,3,4], async)
const fwd = () => [f32(48), f32(48, 2), f32(40, 3), 2, 3, 4, null, 0, 0, 0, 0, false, null, new Float32Array(42), null, false];
// sdpa(q [1,2,3,4], k [1,2,5,4], v [1,2,5,6], B=1, H=2, Lq=3, Lk=5, Dk=4, Dv=6, scale, mask, sb, sh, sq, sk,
//      causal, keyLengths, out [1,2,3,6], weightsOut [1,2,3,5], async)
const sdpa = () => [f32(24), f32(40, 2), f32(60, 3), 1, 2, 3, 5, 4, 6, 0.5, null, 0, 0, 0, 0, false, null, new Float32Array(36), null, false];
// matmul(a [2,3], b [3,4], out [2,4], M=2, N=4, K=3)
const mm = () => [f32(6), f32(12, 2), new Float32Array(8), 2, 4, 3];

const set = (args, changes) => {
  for (const [i, v] of Object.entries(changes)) args[Number(i)] = v;
  return args;
};
const F = (changes, extra) => () => layer.forward(...set(fwd(), changes), ...(extra || []));
const S = (changes) => () => native.scaledDotProductAttention(...set(sdpa(), changes));
const M = (changes) => () => native.matmul(...set(mm(), changes));
const L = (changes) => () => new native.AttentionLayer(...set([...LAYER], changes));
const ASYNC_F = 15;
const ASYNC_S = 19;

// [name, call, expect]: expect 'error' (TypeError/RangeError, thrown or rejected) or 'ok'
// (a valid control call). A case accepted today that should be refused can be marked
// 'known-bug:<what>': the parent then runs it as an it.fails.
const cases = [
  // ---- controls: the same arrays, valid --------------------------------------------
  ['control: forward valid', F({}), 'ok'],
  ['control: forward valid, async', F({ [ASYNC_F]: true }), 'ok'],
  ['control: forward with weightsOut', F({ 14: new Float32Array(48) }), 'ok'],
  ['control: sdpa valid', S({}), 'ok'],
  ['control: sdpa valid, async', S({ [ASYNC_S]: true }), 'ok'],
  ['control: matmul valid', M({}), 'ok'],
  ['control: bool mask [B,H,Lq,Lk] strides', F({ 6: new Uint8Array(48).fill(1), 7: 24, 8: 12, 9: 4, 10: 1 }), 'ok'],
  ['control: mask strides all 0 (scalar)', F({ 6: new Uint8Array(1).fill(1) }), 'ok'],

  // ---- AttentionLayer constructor ------------------------------------------------------
  ['layer: no arguments', () => new native.AttentionLayer(), 'error'],
  ['layer: called without new', () => native.AttentionLayer(...LAYER), 'error'],
  ['layer: embedDim 0', L({ 0: 0 }), 'error'],
  ['layer: embedDim -8', L({ 0: -8 }), 'error'],
  ['layer: embedDim 1.5', L({ 0: 1.5 }), 'error'],
  ['layer: embedDim NaN', L({ 0: NaN }), 'error'],
  ['layer: embedDim Infinity', L({ 0: Infinity }), 'error'],
  ['layer: embedDim 2^31', L({ 0: 2 ** 31 }), 'error'],
  ['layer: embedDim "8"', L({ 0: '8' }), 'error'],
  ['layer: embedDim 8n (BigInt)', L({ 0: 8n }), 'error'],
  ['layer: numHeads·keyDim 2^60 (H·(2Dk+Dv) > 2^31)', L({ 1: 2 ** 30, 2: 2 ** 30 }), 'error'],
  ['layer: 2^34 parameters (E = kdim = vdim = O = 2^16)', L({ 0: 2 ** 16, 1: 1, 2: 2 ** 16, 3: 2 ** 16, 4: 2 ** 16, 5: 2 ** 16, 6: 2 ** 16 }), 'error'],
  ['layer: outputDim 2^31 - 1 (weights beyond 2^40)', L({ 6: 2 ** 31 - 1 }), 'error'],
  ['layer: useBias "yes"', L({ 7: 'yes' }), 'error'],
  ['layer: scale NaN', L({ 8: NaN }), 'error'],
  ['layer: scale -Infinity', L({ 8: -Infinity }), 'error'],
  ['layer: scale missing', () => new native.AttentionLayer(...LAYER.slice(0, 8)), 'error'],
  ['layer: scale 1e39 (finite double, not a float32)', L({ 8: 1e39 }), 'error'],
  ['layer: scale -3.5e38', L({ 8: -3.5e38 }), 'error'],
  ['control: layer scale 3.4e38 (largest float32 range)', L({ 8: 3.4e38 }), 'ok'],

  // ---- setWeight / getWeight ---------------------------------------------------------
  ['setWeight: index -1', () => layer.setWeight(-1, f32(32)), 'error'],
  ['setWeight: index 8', () => layer.setWeight(8, f32(32)), 'error'],
  ['setWeight: index 0.5', () => layer.setWeight(0.5, f32(32)), 'error'],
  ['setWeight: index "0"', () => layer.setWeight('0', f32(32)), 'error'],
  ['setWeight: no data', () => layer.setWeight(0), 'error'],
  ['setWeight: wq data 31 < 8·8', () => layer.setWeight(0, f32(31)), 'error'],
  ['setWeight: wq data 65 > 8·8', () => layer.setWeight(0, f32(65)), 'error'],
  ['setWeight: wq a Float64Array', () => layer.setWeight(0, new Float64Array(64)), 'error'],
  ['setWeight: wq a plain array', () => layer.setWeight(0, new Array(64).fill(0)), 'error'],
  ['setWeight: wq detached', () => layer.setWeight(0, detached(f32(64))), 'error'],
  ['setWeight: wq length-lying subclass (8 real)', () => layer.setWeight(0, new LyingF32(8)), 'error'],
  ['setWeight: bias on a useBias: false layer', () => noBias.setWeight(1, f32(8)), 'error'],
  ['getWeight: out 3 < 8·8', () => layer.getWeight(0, new Float32Array(3)), 'error'],
  ['getWeight: out an Int32Array', () => layer.getWeight(0, new Int32Array(64)), 'error'],
  ['getWeight: index 99', () => layer.getWeight(99, new Float32Array(64)), 'error'],
  ['forward on a plain object (this not a layer)', () => native.AttentionLayer.prototype.forward.call({}, ...fwd()), 'error'],
  ['forward on an object inheriting from a layer', () => native.AttentionLayer.prototype.forward.call(Object.create(layer), ...fwd()), 'error'],
  ['setWeight with this = 5', () => native.AttentionLayer.prototype.setWeight.call(5, 0, f32(64)), 'error'],

  // ---- forward: counts and sizes -----------------------------------------------------
  ['forward: no arguments', () => layer.forward(), 'error'],
  ['forward: async flag missing', () => layer.forward(...fwd().slice(0, 15)), 'error'],
  ['forward: batch 0', F({ 3: 0 }), 'error'],
  ['forward: batch -1', F({ 3: -1 }), 'error'],
  ['forward: batch 1.5', F({ 3: 1.5 }), 'error'],
  ['forward: batch NaN', F({ 3: NaN }), 'error'],
  ['forward: batch "2"', F({ 3: '2' }), 'error'],
  ['forward: batch 2^31 (beyond BLAS int)', F({ 3: 2 ** 31 }), 'error'],
  ['forward: batch 2^53', F({ 3: 2 ** 53 }), 'error'],
  ['forward: queryLength 2^31 - 1 (B·Lq·E ≈ 2^35 vs 48 real)', F({ 4: 2 ** 31 - 1 }), 'error'],
  ['forward: B = Lq = 2^31 - 1 (product > 2^40)', F({ 3: 2 ** 31 - 1, 4: 2 ** 31 - 1 }), 'error'],
  ['forward: keyLength 5 with 4 rows of key', F({ 5: 5 }), 'error'],
  ['forward: query 47 < B·Lq·E', F({ 0: f32(47) }), 'error'],
  ['forward: query 49 > B·Lq·E', F({ 0: f32(49) }), 'error'],
  ['forward: key 47 < B·Lk·kdim', F({ 1: f32(47) }), 'error'],
  ['forward: value 39 < B·Lk·vdim', F({ 2: f32(39) }), 'error'],
  ['forward: query length-lying subclass', F({ 0: new LyingF32(4) }), 'error'],
  ['forward: query a Float64Array', F({ 0: new Float64Array(48) }), 'error'],
  ['forward: query a Uint8Array of 192 bytes', F({ 0: new Uint8Array(192) }), 'error'],
  ['forward: query a DataView', F({ 0: new DataView(new ArrayBuffer(192)) }), 'error'],
  ['forward: query a plain array', F({ 0: new Array(48).fill(0) }), 'error'],
  ['forward: query an ArrayBuffer', F({ 0: new ArrayBuffer(192) }), 'error'],
  ['forward: query a Proxy of a Float32Array', F({ 0: new Proxy(f32(48), {}) }), 'error'],
  ['forward: query null', F({ 0: null }), 'error'],
  ['forward: query detached', F({ 0: detached(f32(48)) }), 'error'],
  ['forward: out 41 < B·Lq·O', F({ 13: new Float32Array(41) }), 'error'],
  ['forward: out null', F({ 13: null }), 'error'],
  ['forward: out a Float64Array', F({ 13: new Float64Array(42) }), 'error'],
  ['forward: out detached', F({ 13: detached(new Float32Array(42)) }), 'error'],
  ['forward: weightsOut 47 < B·H·Lq·Lk', F({ 14: new Float32Array(47) }), 'error'],
  ['forward: weightsOut an Int32Array', F({ 14: new Int32Array(48) }), 'error'],
  ['forward: causal 1', F({ 11: 1 }), 'error'],
  ['forward: causal undefined', F({ 11: undefined }), 'error'],
  ['forward: async "yes"', F({ 15: 'yes' }), 'error'],
  // mask: strides that lie
  ['forward: mask an Int8Array', F({ 6: new Int8Array(4) }), 'error'],
  ['forward: mask a Uint8ClampedArray', F({ 6: new Uint8ClampedArray(4) }), 'error'],
  ['forward: mask a Float64Array', F({ 6: new Float64Array(4) }), 'error'],
  ['forward: mask a plain array', F({ 6: [1, 1, 1, 1] }), 'error'],
  ['forward: mask of 0 elements', F({ 6: new Uint8Array(0) }), 'error'],
  ['forward: mask detached', F({ 6: detached(new Uint8Array(4)), 10: 1 }), 'error'],
  ['forward: mask stride key 1 over 3 elements (Lk = 4)', F({ 6: new Uint8Array(3), 10: 1 }), 'error'],
  ['forward: mask stride query 4 over 11 elements', F({ 6: new Uint8Array(11), 9: 4, 10: 1 }), 'error'],
  ['forward: mask [B,H,Lq,Lk] strides over 47 elements', F({ 6: new Uint8Array(47), 7: 24, 8: 12, 9: 4, 10: 1 }), 'error'],
  ['forward: float mask strides over 47 elements', F({ 6: new Float32Array(47), 7: 24, 8: 12, 9: 4, 10: 1 }), 'error'],
  ['forward: mask stride batch 2^53', F({ 6: new Uint8Array(4), 7: 2 ** 53 }), 'error'],
  ['forward: mask stride batch 2^53 + 2 (> 2^53)', F({ 6: new Uint8Array(4), 7: 2 ** 53 + 2 }), 'error'],
  ['forward: mask stride key -1 (negative)', F({ 6: new Uint8Array(4), 10: -1 }), 'error'],
  ['forward: mask stride query -4 (negative)', F({ 6: new Uint8Array(48), 9: -4, 10: 1 }), 'error'],
  ['forward: mask stride head 0.5', F({ 6: new Uint8Array(48), 8: 0.5 }), 'error'],
  ['forward: mask stride NaN', F({ 6: new Uint8Array(48), 8: NaN }), 'error'],
  ['forward: mask stride "1"', F({ 6: new Uint8Array(48), 10: '1' }), 'error'],
  ['forward: mask strides missing', F({ 6: new Uint8Array(4), 7: undefined }), 'error'],
  // keyLengths
  ['forward: keyLengths [5, 1] (> Lk = 4)', F({ 12: new Int32Array([5, 1]) }), 'error'],
  ['forward: keyLengths [-1, 1]', F({ 12: new Int32Array([-1, 1]) }), 'error'],
  ['forward: keyLengths [INT32_MIN, 0]', F({ 12: new Int32Array([-(2 ** 31), 0]) }), 'error'],
  ['forward: keyLengths [INT32_MAX, 0]', F({ 12: new Int32Array([2 ** 31 - 1, 0]) }), 'error'],
  ['forward: keyLengths 1 entry for B = 2', F({ 12: new Int32Array([1]) }), 'error'],
  ['forward: keyLengths a Uint32Array', F({ 12: new Uint32Array([1, 1]) }), 'error'],
  ['forward: keyLengths a Float32Array', F({ 12: new Float32Array([1, 1]) }), 'error'],
  ['forward: keyLengths a plain array', F({ 12: [1, 1] }), 'error'],
  ['forward: keyLengths detached', F({ 12: detached(new Int32Array([1, 1])) }), 'error'],

  // ---- the same lies with async = true: must throw (or reject), never queue ----------
  ['forward async: query 47 < B·Lq·E', F({ 0: f32(47), [ASYNC_F]: true }), 'error'],
  ['forward async: out too small', F({ 13: new Float32Array(1), [ASYNC_F]: true }), 'error'],
  ['forward async: mask beyond its end', F({ 6: new Uint8Array(3), 10: 1, [ASYNC_F]: true }), 'error'],
  ['forward async: keyLengths out of range', F({ 12: new Int32Array([9, 9]), [ASYNC_F]: true }), 'error'],
  ['forward async: batch 2^31', F({ 3: 2 ** 31, [ASYNC_F]: true }), 'error'],
  ['forward async: out detached', F({ 13: detached(new Float32Array(42)), [ASYNC_F]: true }), 'error'],
  ['forward async: query a Float64Array', F({ 0: new Float64Array(48), [ASYNC_F]: true }), 'error'],

  // ---- scaledDotProductAttention ---------------------------------------------------
  ['sdpa: no arguments', () => native.scaledDotProductAttention(), 'error'],
  ['sdpa: heads 0', S({ 4: 0 }), 'error'],
  ['sdpa: keyDim -4', S({ 7: -4 }), 'error'],
  ['sdpa: valueDim 2^31', S({ 8: 2 ** 31 }), 'error'],
  ['sdpa: B·H·Lq·Dk 2^62 with 24 real', S({ 3: 2 ** 31 - 1, 4: 2 ** 31 - 1 }), 'error'],
  ['sdpa: q 23 < B·H·Lq·Dk', S({ 0: f32(23) }), 'error'],
  ['sdpa: k 39 < B·H·Lk·Dk', S({ 1: f32(39) }), 'error'],
  ['sdpa: v 59 < B·H·Lk·Dv', S({ 2: f32(59) }), 'error'],
  ['sdpa: keyLength 6 with 5 rows of k', S({ 6: 6 }), 'error'],
  ['sdpa: scale NaN', S({ 9: NaN }), 'error'],
  ['sdpa: scale "0.5"', S({ 9: '0.5' }), 'error'],
  ['sdpa: out 35 < B·H·Lq·Dv', S({ 17: new Float32Array(35) }), 'error'],
  ['sdpa: weightsOut 29 < B·H·Lq·Lk', S({ 18: new Float32Array(29) }), 'error'],
  ['sdpa: mask stride key 1 over 4 elements (Lk = 5)', S({ 10: new Uint8Array(4), 14: 1 }), 'error'],
  ['sdpa: mask stride head 15 over 15 elements', S({ 10: new Float32Array(15), 12: 15 }), 'error'],
  ['sdpa: mask stride key -1', S({ 10: new Uint8Array(5), 14: -1 }), 'error'],
  ['sdpa: keyLengths [6] (> Lk = 5)', S({ 16: new Int32Array([6]) }), 'error'],
  ['sdpa: keyLengths [-1]', S({ 16: new Int32Array([-1]) }), 'error'],
  ['sdpa: keyLengths 2 entries for B = 1', S({ 16: new Int32Array([1, 1]) }), 'error'],
  ['sdpa: async 0', S({ [ASYNC_S]: 0 }), 'error'],
  ['sdpa async: q too short', S({ 0: f32(1), [ASYNC_S]: true }), 'error'],
  ['sdpa async: mask beyond its end', S({ 10: new Uint8Array(4), 14: 1, [ASYNC_S]: true }), 'error'],
  ['sdpa async: keyLengths [6]', S({ 16: new Int32Array([6]), [ASYNC_S]: true }), 'error'],
  ['sdpa: scale 1e39 (finite double, not a float32)', S({ 9: 1e39 }), 'error'],

  // ---- matmul ---------------------------------------------------------------------
  ['matmul: no arguments', () => native.matmul(), 'error'],
  ['matmul: M 0', M({ 3: 0 }), 'error'],
  ['matmul: N -4', M({ 4: -4 }), 'error'],
  ['matmul: K 2^31', M({ 5: 2 ** 31 }), 'error'],
  ['matmul: M = N = 2^31 - 1 (out beyond 2^40)', M({ 3: 2 ** 31 - 1, 4: 2 ** 31 - 1 }), 'error'],
  ['matmul: a 5 < M·K', M({ 0: f32(5) }), 'error'],
  ['matmul: b 11 < K·N', M({ 1: f32(11) }), 'error'],
  ['matmul: out 7 < M·N', M({ 2: new Float32Array(7) }), 'error'],
  ['matmul: out a Float64Array', M({ 2: new Float64Array(8) }), 'error'],
  ['matmul: a detached', M({ 0: detached(f32(6)) }), 'error'],
  ['matmul: K "3"', M({ 5: '3' }), 'error'],

  // ---- threads ----------------------------------------------------------------------
  ['setNumThreads: no argument', () => native.setNumThreads(), 'error'],
  ['setNumThreads: 0', () => native.setNumThreads(0), 'error'],
  ['setNumThreads: 257', () => native.setNumThreads(257), 'error'],
  ['setNumThreads: NaN', () => native.setNumThreads(NaN), 'error'],
  ['setNumThreads: "2"', () => native.setNumThreads('2'), 'error'],
];

// A mask whose strides overflow int64 while its shape is real: Lk = 2^20 keys (4 MiB).
{
  const Lk = 2 ** 20;
  cases.push([
    'sdpa: mask stride key 2^53 with Lk = 2^20 (offset overflows int64)',
    () => native.scaledDotProductAttention(f32(1), f32(Lk), f32(Lk), 1, 1, 1, Lk, 1, 1, 1, new Uint8Array(8), 0, 0, 0, 2 ** 53, false, null, new Float32Array(1), null, false),
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
          (e) => Object.assign(r, { outcome: 'rejected', type: e && e.constructor && e.constructor.name, message: String(e && e.message) }),
        );
      } else r.outcome = 'returned';
    } catch (e) {
      Object.assign(r, { outcome: 'threw', type: e && e.constructor && e.constructor.name, message: String(e && e.message) });
    }
    results.push(r);
  }
  // The module still works after all of that.
  const out = new Float32Array(42);
  layer.forward(...set(fwd(), { 13: out }));
  const stillWorks = out.every(Number.isFinite) && out.some((x) => x !== 0);
  process.stdout.write(JSON.stringify({ results, stillWorks }) + '\n');
}

// ---------------------------------------------------------------------------------------
// Hazard scenarios

function bigLayerCall(nativeMod, count) {
  const E = 128;
  const B = 2;
  const L = 512;
  const l = new nativeMod.AttentionLayer(E, 4, 32, 32, E, E, E, true, 0.17);
  const q = f32(B * L * E);
  const promises = [];
  for (let i = 0; i < count; i++) {
    promises.push(l.forward(q, q, q, B, L, L, null, 0, 0, 0, 0, false, null, new Float32Array(B * L * E), null, true));
  }
  return promises;
}

const WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  const native = require(workerData.binary);
  const E = 128, B = 2, L = 512;
  const l = new native.AttentionLayer(E, 4, 32, 32, E, E, E, true, 0.17);
  const q = new Float32Array(B * L * E).map((_, i) => Math.sin(i));
  for (let i = 0; i < 6; i++)
    l.forward(q, q, q, B, L, L, null, 0, 0, 0, 0, false, null, new Float32Array(B * L * E), null, true).catch(() => {});
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
    const l = new native.AttentionLayer(E, 4, 32, 32, E, E, E, true, 0.17);
    const buffer = new ArrayBuffer(B * L * E * 4, { maxByteLength: B * L * E * 4 });
    const q = new Float32Array(buffer);
    q.set(f32(B * L * E));
    const p = l.forward(q, q, q, B, L, L, null, 0, 0, 0, 0, false, null, new Float32Array(B * L * E), null, true);
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
    const p = native.scaledDotProductAttention(q, k, v, B, H, Lq, Lk, D, D, 0.125, null, 0, 0, 0, 0, false, null, out, null, true);
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
    const l = new native.AttentionLayer(E, 4, 32, 32, E, E, E, true, 0.17);
    const q = f32(B * L * E);
    const out = new Float32Array(B * L * E);
    const p = l.forward(q, q, q, B, L, L, null, 0, 0, 0, 0, false, null, out, null, true);
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
      const l = new native.AttentionLayer(E, 8, 32, 32, E, E, E, true, 0.17);
      const q = f32(B * L * E);
      const out = new Float32Array(B * L * E);
      promises.push(l.forward(q, q, q, B, L, L, null, 0, 0, 0, 0, false, null, out, null, true));
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
    process.stdout.write(JSON.stringify({ scenario: name, ...result }) + '\n');
    return undefined;
  }
  throw new Error('usage: child.cjs cases | scenario <name>');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`child failed: ${err && err.stack}\n`);
    process.exit(2);
  },
);
