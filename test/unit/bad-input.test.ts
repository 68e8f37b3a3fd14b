// Every public entry point against bad input: wrong types, wrong shapes, out-of-range
// sizes, detached and aliased memory, throwing getters, lying typed arrays. Each must
// throw (sync) or reject (async, never a synchronous throw) a TypeError / RangeError
// whose message names the argument and says what was expected and what it got -- or,
// where the input is in fact valid (SharedArrayBuffer, offset views, non-finite values),
// give the right result.
//
// Rows marked `gap` are errors that are raised safely but whose message does not (yet)
// follow the "arg: expected X, got Y" format; rows tested with `it.fails` are known bugs
// (see the closing comment of each): flip them to `it` once fixed.
import { describe, expect, it } from 'vitest';
import {
  matmul,
  MultiHeadAttention,
  scaledDotProductAttention,
  scaledDotProductAttentionAsync,
  SelfAttention,
  setNumThreads,
  getNumThreads,
  tensor,
  type Tensor,
} from '../../lib/index';

// ---------------------------------------------------------------------------------------
// Helpers

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

interface BadCase {
  name: string;
  /** The arguments, built fresh for each run (some cases detach or mutate them). */
  args: () => unknown[];
  error: ErrorClass;
  /** Exact message, or a pattern. */
  message: string | RegExp;
  /** Safe, but the message does not follow "arg: expected X, got Y" yet. */
  gap?: string;
}

/** Deterministic, non-zero data. */
function t(shape: number[], seed = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(0.7 * i + seed) * 0.9 + 0.05;
  return { data, shape };
}

/** Detaches the view's buffer (the view then has length 0). */
function detach<T extends ArrayBufferView>(view: T): T {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  return view;
}

/** A Float32Array whose `length` getter lies: fools lib/, not the native re-check. */
function lyingFloat32(real: number, claimed: number): Float32Array {
  class Lying extends Float32Array {
    override get length(): number {
      return claimed;
    }
  }
  return new Lying(real);
}

/** An array whose element `index` answers `answers[0]`, `answers[1]`, ... on successive reads. */
function shiftyShape(values: number[], index: number, answers: number[]): number[] {
  const shape = [...values];
  let n = 0;
  Object.defineProperty(shape, index, { get: () => answers[Math.min(n++, answers.length - 1)] });
  return shape;
}

/** Runs `call` and returns what it threw or rejected with (null if it succeeded). */
async function failure(call: () => unknown, isAsync: boolean): Promise<unknown> {
  if (!isAsync) {
    try {
      call();
    } catch (err) {
      return err;
    }
    return null;
  }
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    throw new Error(`an async entry point threw synchronously instead of rejecting: ${String(err)}`);
  }
  expect(result, 'an async entry point returns a Promise').toBeInstanceOf(Promise);
  return (result as Promise<unknown>).then(
    () => null,
    (err: unknown) => err,
  );
}

async function expectFailure(c: BadCase, call: () => unknown, isAsync: boolean): Promise<void> {
  const err = await failure(call, isAsync);
  expect(err, 'expected an error').not.toBeNull();
  expect(err).toBeInstanceOf(c.error);
  if (c.error === Error) expect(err, 'a plain Error is only expected from a throwing getter').toHaveProperty('message', 'boom');
  const message = (err as Error).message;
  if (typeof c.message === 'string') expect(message).toBe(c.message);
  else expect(message).toMatch(c.message);
}

const throwingGetter = (): Tensor =>
  ({
    get data(): Float32Array {
      throw new Error('boom');
    },
    shape: [2, 3, 8],
  }) as unknown as Tensor;

// A layer whose every feature size differs, so each message shows which one it checked:
// query [B=2, Lq=3, E=8], key [2, Lk=4, kdim=6], value [2, 4, vdim=5] → out [2, 3, O=7].
const layer = new MultiHeadAttention({ embedDim: 8, numHeads: 2, kdim: 6, vdim: 5, outputDim: 7, seed: 1 });
const Q = () => t([2, 3, 8], 1);
const K = () => t([2, 4, 6], 2);
const V = () => t([2, 4, 5], 3);
const OUT_LEN = 2 * 3 * 7;

// ---------------------------------------------------------------------------------------
// tensor()

describe('tensor()', () => {
  const cases: BadCase[] = [
    { name: 'data a string', args: () => ['abc', [3]], error: TypeError, message: 'tensor: data: expected a Float32Array or an array of numbers, got "abc"' },
    { name: 'data null', args: () => [null, [3]], error: TypeError, message: 'tensor: data: expected a Float32Array or an array of numbers, got null' },
    { name: 'data an object with fake data/shape', args: () => [{ data: new Float32Array(3), shape: [3] }, [3]], error: TypeError, message: 'tensor: data: expected a Float32Array or an array of numbers, got an object (Object)' },
    { name: 'data an array-like object', args: () => [{ length: 3, 0: 1, 1: 2, 2: 3 }, [3]], error: TypeError, message: 'tensor: data: expected a Float32Array or an array of numbers, got an object (Object)' },
    { name: 'data a DataView', args: () => [new DataView(new ArrayBuffer(12)), [3]], error: TypeError, message: 'tensor: data: expected a Float32Array or an array of numbers, got a DataView(12)' },
    { name: 'data a BigInt64Array', args: () => [new BigInt64Array(3), [3]], error: TypeError, message: /BigInt/, gap: 'V8 message from Float32Array.from' },
    { name: 'shape a string', args: () => [new Float32Array(3), '3'], error: TypeError, message: 'tensor.shape: expected an array of positive integers, got "3"' },
    { name: 'shape null', args: () => [new Float32Array(3), null], error: TypeError, message: 'tensor.shape: expected an array of positive integers, got null' },
    { name: 'shape [0]', args: () => [new Float32Array(0), [0]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got 0' },
    { name: 'shape [-1]', args: () => [new Float32Array(1), [-1]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got -1' },
    { name: 'shape [1.5]', args: () => [new Float32Array(1), [1.5]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got 1.5' },
    { name: 'shape [NaN]', args: () => [new Float32Array(1), [NaN]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got NaN' },
    { name: 'shape [Infinity]', args: () => [new Float32Array(1), [Infinity]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got Infinity' },
    { name: 'shape ["3"]', args: () => [new Float32Array(3), ['3']], error: TypeError, message: 'tensor.shape[0]: expected a positive integer, got "3"' },
    { name: 'shape [2^53]', args: () => [new Float32Array(1), [2 ** 53]], error: RangeError, message: 'tensor.shape[0]: expected a positive integer, got 9007199254740992' },
    { name: 'product 2^42 (> 2^40)', args: () => [new Float32Array(1), [2 ** 21, 2 ** 21]], error: RangeError, message: 'tensor: expected at most 1099511627776 elements, got 4398046511104 (shape [2097152, 2097152])' },
    { name: 'product 2^90 (> 2^53)', args: () => [new Float32Array(1), [2 ** 30, 2 ** 30, 2 ** 30]], error: RangeError, message: /^tensor: expected at most 1099511627776 elements, got 1\.2379\d*e\+27 \(shape \[1073741824, 1073741824, 1073741824\]\)$/ },
    { name: 'product 2^32 (> 2^31), data too short', args: () => [new Float32Array(6), [2 ** 16, 2 ** 16]], error: RangeError, message: 'tensor: data: expected 4294967296 elements for shape [65536, 65536], got 6' },
    { name: 'length < shape', args: () => [new Float32Array(5), [2, 3]], error: RangeError, message: 'tensor: data: expected 6 elements for shape [2, 3], got 5' },
    { name: 'length > shape', args: () => [[1, 2, 3, 4, 5, 6, 7], [2, 3]], error: RangeError, message: 'tensor: data: expected 6 elements for shape [2, 3], got 7' },
    { name: 'detached Float32Array', args: () => [detach(new Float32Array(6)), [2, 3]], error: RangeError, message: 'tensor: data: expected 6 elements for shape [2, 3], got 0', gap: 'does not say "detached"' },
  ];
  it.each(cases)('$name → $error.name', async (c) => {
    await expectFailure(c, () => (tensor as (...a: unknown[]) => unknown)(...c.args()), false);
  });

  it('copies a Float64Array and plain arrays (valid input)', () => {
    expect(Array.from(tensor(new Float64Array([1.5, -2, 3]), [3]).data)).toEqual([1.5, -2, 3]);
    expect(Array.from(tensor([1, 2, 3, 4], [2, 2]).data)).toEqual([1, 2, 3, 4]);
  });
});

// ---------------------------------------------------------------------------------------
// MultiHeadAttention constructor

describe('new MultiHeadAttention(options)', () => {
  const base = { embedDim: 8, numHeads: 2 };
  const cases: BadCase[] = [
    { name: 'no options', args: () => [undefined], error: TypeError, message: 'MultiHeadAttention: options: expected an options object, got undefined' },
    { name: 'options null', args: () => [null], error: TypeError, message: 'MultiHeadAttention: options: expected an options object, got null' },
    { name: 'options a number', args: () => [8], error: TypeError, message: 'MultiHeadAttention: options: expected an options object, got 8' },
    { name: 'options a string', args: () => ['8'], error: TypeError, message: 'MultiHeadAttention: options: expected an options object, got "8"' },
    { name: 'options an array', args: () => [[8, 2]], error: TypeError, message: 'MultiHeadAttention: options: expected an options object, got an Array(2)' },
    { name: 'embedDim missing', args: () => [{ numHeads: 2 }], error: TypeError, message: 'embedDim: expected a positive integer, got undefined' },
    { name: 'embedDim a string', args: () => [{ ...base, embedDim: '8' }], error: TypeError, message: 'embedDim: expected a positive integer, got "8"' },
    { name: 'embedDim 0', args: () => [{ ...base, embedDim: 0 }], error: RangeError, message: 'embedDim: expected a positive integer, got 0' },
    { name: 'embedDim -8', args: () => [{ ...base, embedDim: -8 }], error: RangeError, message: 'embedDim: expected a positive integer, got -8' },
    { name: 'embedDim 7.5', args: () => [{ ...base, embedDim: 7.5 }], error: RangeError, message: 'embedDim: expected a positive integer, got 7.5' },
    { name: 'embedDim NaN', args: () => [{ ...base, embedDim: NaN }], error: RangeError, message: 'embedDim: expected a positive integer, got NaN' },
    { name: 'embedDim 2^53', args: () => [{ ...base, embedDim: 2 ** 53 }], error: RangeError, message: 'embedDim: expected a positive integer, got 9007199254740992' },
    { name: 'embedDim 2^31 (beyond BLAS int)', args: () => [{ embedDim: 2 ** 31, numHeads: 1 }], error: RangeError, message: "embedDim: expected a positive integer of at most 2147483647 (BLAS's 32-bit int), got 2147483648" },
    { name: 'embedDim 2^20 (weights beyond 2^40 elements)', args: () => [{ embedDim: 2 ** 20, numHeads: 1 }], error: RangeError, message: 'MultiHeadAttention: options: expected at most 2147483648 weights (8 GiB), got 4398046511104 for these sizes' },
    { name: 'embedDim 2^16 (2^34 parameters)', args: () => [{ embedDim: 2 ** 16, numHeads: 1 }], error: RangeError, message: 'MultiHeadAttention: options: expected at most 2147483648 weights (8 GiB), got 17179869184 for these sizes' },
    { name: 'numHeads·keyDim 2^52 (> 2^31)', args: () => [{ embedDim: 8, numHeads: 2 ** 26, keyDim: 2 ** 26 }], error: RangeError, message: "numHeads · (2·keyDim + valueDim): expected at most 2147483647 (BLAS's 32-bit int), got 13510798882111488" },
    { name: 'numHeads 0', args: () => [{ ...base, numHeads: 0 }], error: RangeError, message: 'numHeads: expected a positive integer, got 0' },
    { name: 'numHeads not dividing embedDim', args: () => [{ embedDim: 10, numHeads: 3 }], error: RangeError, message: 'numHeads: expected a divisor of embedDim (10) when keyDim is not given, got 3' },
    { name: 'keyDim 0', args: () => [{ ...base, keyDim: 0 }], error: RangeError, message: 'keyDim: expected a positive integer, got 0' },
    { name: 'keyDim null', args: () => [{ ...base, keyDim: null }], error: TypeError, message: 'keyDim: expected a positive integer, got null' },
    { name: 'valueDim 2.5', args: () => [{ ...base, valueDim: 2.5 }], error: RangeError, message: 'valueDim: expected a positive integer, got 2.5' },
    { name: 'kdim "6"', args: () => [{ ...base, kdim: '6' }], error: TypeError, message: 'kdim: expected a positive integer, got "6"' },
    { name: 'vdim -1', args: () => [{ ...base, vdim: -1 }], error: RangeError, message: 'vdim: expected a positive integer, got -1' },
    { name: 'outputDim Infinity', args: () => [{ ...base, outputDim: Infinity }], error: RangeError, message: 'outputDim: expected a positive integer, got Infinity' },
    { name: 'useBias "yes"', args: () => [{ ...base, useBias: 'yes' }], error: TypeError, message: 'useBias: expected a boolean, got "yes"' },
    { name: 'scale "1"', args: () => [{ ...base, scale: '1' }], error: TypeError, message: 'scale: expected a finite number, got "1"' },
    { name: 'scale NaN', args: () => [{ ...base, scale: NaN }], error: RangeError, message: 'scale: expected a finite float32 number, got NaN' },
    { name: 'scale -Infinity', args: () => [{ ...base, scale: -Infinity }], error: RangeError, message: 'scale: expected a finite float32 number, got -Infinity' },
    { name: 'seed "1"', args: () => [{ ...base, seed: '1' }], error: TypeError, message: 'seed: expected an integer, got "1"' },
    { name: 'seed 1.5', args: () => [{ ...base, seed: 1.5 }], error: RangeError, message: 'seed: expected an integer, got 1.5' },
    { name: 'scale 1e39 (finite, beyond float32)', args: () => [{ ...base, scale: 1e39 }], error: RangeError, message: 'scale: expected a finite float32 number, got 1e+39' },
    { name: 'scale -3.5e38 (beyond float32)', args: () => [{ ...base, scale: -3.5e38 }], error: RangeError, message: 'scale: expected a finite float32 number, got -3.5e+38' },
    {
      name: 'a getter that throws',
      args: () => [{ get embedDim(): number { throw new Error('boom'); }, numHeads: 2 }],
      error: Error,
      message: 'boom',
    },
  ];
  it.each(cases)('$name → $error.name', async (c) => {
    await expectFailure(c, () => new MultiHeadAttention(...(c.args() as [never])), false);
  });
});

// ---------------------------------------------------------------------------------------
// forward, forwardAsync, forwardWithWeights, forwardWithWeightsAsync

function forwardCases(): BadCase[] {
  const opts = (o: Record<string, unknown>) => () => [Q(), K(), V(), o];
  const withQuery = (q: unknown) => () => [q, K(), V()];
  const shared = (): { query: Tensor; out: Float32Array; buffer: ArrayBuffer } => {
    const buffer = new ArrayBuffer(4 * (48 + OUT_LEN));
    const query = { data: new Float32Array(buffer, 0, 48), shape: [2, 3, 8] };
    query.data.set(Q().data);
    return { query, out: new Float32Array(buffer, 4 * 40, OUT_LEN), buffer };
  };
  return [
    // query: the wrong kind of thing
    { name: 'query a plain nested array', args: withQuery([[1, 2], [3, 4]]), error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got an Array(2)' },
    { name: 'query a bare Float32Array', args: withQuery(new Float32Array(48)), error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got a Float32Array(48)' },
    { name: 'query a string', args: withQuery('query'), error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got "query"' },
    { name: 'query null', args: withQuery(null), error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got null' },
    { name: 'query undefined', args: withQuery(undefined), error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got undefined' },
    { name: 'query.data a Float64Array', args: withQuery({ data: new Float64Array(48), shape: [2, 3, 8] }), error: TypeError, message: 'query.data: expected a Float32Array, got a Float64Array(48)' },
    { name: 'query.data a plain array', args: withQuery({ data: new Array(48).fill(0), shape: [2, 3, 8] }), error: TypeError, message: 'query.data: expected a Float32Array, got an Array(48)' },
    { name: 'query.data missing (fake tensor)', args: withQuery({ shape: [2, 3, 8] }), error: TypeError, message: 'query.data: expected a Float32Array, got undefined' },
    { name: 'query.shape a string', args: withQuery({ data: new Float32Array(48), shape: '2,3,8' }), error: TypeError, message: 'query.shape: expected an array of positive integers, got "2,3,8"' },
    { name: 'query.data a getter that throws', args: withQuery(throwingGetter()), error: Error, message: 'boom' },
    { name: 'query.data a Proxy of a Float32Array', args: withQuery({ data: new Proxy(new Float32Array(48), {}), shape: [2, 3, 8] }), error: TypeError, message: 'query.data: expected a Float32Array, got an object (Object)' },
    { name: 'query.data a Float32Array-prototyped object', args: withQuery({ data: Object.setPrototypeOf({}, Float32Array.prototype), shape: [2, 3, 8] }), error: TypeError, message: /^query\.data: expected a Float32Array, got/ },
    { name: 'query.data lies about its length (caught natively)', args: withQuery({ data: lyingFloat32(6, 48), shape: [2, 3, 8] }), error: RangeError, message: /^forward(Async)?: query: expected 48 elements, got 6$/ },
    { name: 'query.shape[1] a getter: 3, then 300', args: withQuery({ data: new Float32Array(48), shape: shiftyShape([2, 3, 8], 1, [3, 300]) }), error: RangeError, message: 'query.data: expected 4800 elements for shape [2, 300, 8], got 48' },
    { name: 'query.shape[1] a getter: 3, 3, then 1 (caught natively)', args: withQuery({ data: new Float32Array(48), shape: shiftyShape([2, 3, 8], 1, [3, 3, 1]) }), error: RangeError, message: /^forward(Async)?: query: expected 16 elements, got 48$/ },
    { name: 'query.data detached', args: withQuery({ data: detach(new Float32Array(48)), shape: [2, 3, 8] }), error: TypeError, message: 'query.data: its ArrayBuffer is detached' },
    // query: shape
    { name: 'query length < shape', args: withQuery({ data: new Float32Array(47), shape: [2, 3, 8] }), error: RangeError, message: 'query.data: expected 48 elements for shape [2, 3, 8], got 47' },
    { name: 'query length > shape', args: withQuery({ data: new Float32Array(49), shape: [2, 3, 8] }), error: RangeError, message: 'query.data: expected 48 elements for shape [2, 3, 8], got 49' },
    { name: 'query rank 1', args: withQuery(t([8])), error: RangeError, message: 'query: expected a tensor of rank 2 or 3, got rank 1 (shape [8])' },
    { name: 'query rank 4', args: withQuery(t([1, 2, 3, 8])), error: RangeError, message: 'query: expected a tensor of rank 2 or 3, got rank 4 (shape [1, 2, 3, 8])' },
    { name: 'query feature size 5 ≠ embedDim', args: withQuery(t([2, 3, 5])), error: RangeError, message: 'query: expected shape [B, Lq, 8], got [2, 3, 5]' },
    { name: 'query unbatched, feature size wrong', args: () => [t([3, 5]), null, null], error: RangeError, message: 'query: expected shape [Lq, 8], got [3, 5]' },
    { name: 'query.shape[1] 0', args: withQuery({ data: new Float32Array(0), shape: [2, 0, 8] }), error: RangeError, message: 'query.shape[1]: expected a positive integer, got 0' },
    { name: 'query.shape[0] -2', args: withQuery({ data: new Float32Array(48), shape: [-2, 3, 8] }), error: RangeError, message: 'query.shape[0]: expected a positive integer, got -2' },
    { name: 'query.shape[1] 1.5', args: withQuery({ data: new Float32Array(48), shape: [2, 1.5, 8] }), error: RangeError, message: 'query.shape[1]: expected a positive integer, got 1.5' },
    { name: 'query.shape[1] NaN', args: withQuery({ data: new Float32Array(48), shape: [2, NaN, 8] }), error: RangeError, message: 'query.shape[1]: expected a positive integer, got NaN' },
    { name: 'query shape product 2^35 (> 2^31)', args: withQuery({ data: new Float32Array(48), shape: [2 ** 16, 2 ** 16, 8] }), error: RangeError, message: 'query.data: expected 34359738368 elements for shape [65536, 65536, 8], got 48' },
    { name: 'query shape product 2^43 (> 2^40)', args: withQuery({ data: new Float32Array(48), shape: [2 ** 20, 2 ** 20, 8] }), error: RangeError, message: 'query: expected at most 1099511627776 elements, got 8796093022208 (shape [1048576, 1048576, 8])' },
    { name: 'query shape product 2^63 (> 2^53)', args: withQuery({ data: new Float32Array(48), shape: [2 ** 30, 2 ** 30, 8] }), error: RangeError, message: 'query: expected at most 1099511627776 elements, got 9223372036854776000 (shape [1073741824, 1073741824, 8])' },
    // key / value
    { name: 'key a Float64Array tensor', args: () => [Q(), { data: new Float64Array(48), shape: [2, 4, 6] }, V()], error: TypeError, message: 'key.data: expected a Float32Array, got a Float64Array(48)' },
    { name: 'key batch 3 ≠ 2', args: () => [Q(), t([3, 4, 6]), V()], error: RangeError, message: 'key: expected shape [2, Lk, 6], got [3, 4, 6]' },
    { name: 'key feature size 8 ≠ kdim', args: () => [Q(), t([2, 4, 8]), V()], error: RangeError, message: 'key: expected shape [2, Lk, 6], got [2, 4, 8]' },
    { name: 'key rank 2 with a rank-3 query', args: () => [Q(), t([4, 6]), V()], error: RangeError, message: 'key: expected a tensor of rank 3, got rank 2 (shape [4, 6])' },
    { name: 'key detached', args: () => [Q(), { data: detach(new Float32Array(48)), shape: [2, 4, 6] }, V()], error: TypeError, message: 'key.data: its ArrayBuffer is detached' },
    { name: 'key omitted (defaults to query: wrong kdim)', args: () => [Q()], error: RangeError, message: 'key: expected shape [2, Lk, 6], got [2, 3, 8]' },
    { name: 'value length 5 ≠ Lk', args: () => [Q(), K(), t([2, 5, 5])], error: RangeError, message: 'value: expected shape [2, 4, 5], got [2, 5, 5]' },
    { name: 'value feature size 6 ≠ vdim', args: () => [Q(), K(), t([2, 4, 6])], error: RangeError, message: 'value: expected shape [2, 4, 5], got [2, 4, 6]' },
    { name: 'value a string', args: () => [Q(), K(), 'value'], error: TypeError, message: 'value: expected a tensor { data: Float32Array, shape: number[] }, got "value"' },
    // options
    { name: 'options a string', args: () => [Q(), K(), V(), 'causal'], error: TypeError, message: 'options: expected an options object, got "causal"' },
    { name: 'options an array', args: () => [Q(), K(), V(), []], error: TypeError, message: 'options: expected an options object, got an Array(0)' },
    { name: 'causal 1', args: opts({ causal: 1 }), error: TypeError, message: 'causal: expected a boolean, got 1' },
    { name: 'causal "true"', args: opts({ causal: 'true' }), error: TypeError, message: 'causal: expected a boolean, got "true"' },
    // mask
    { name: 'mask a plain array', args: opts({ mask: [1, 1, 1, 1] }), error: TypeError, message: 'mask: expected a tensor { data: Uint8Array | Float32Array, shape: number[] }, got an Array(4)' },
    { name: 'mask a bare Uint8Array', args: opts({ mask: new Uint8Array(4) }), error: TypeError, message: 'mask: expected a tensor { data: Uint8Array | Float32Array, shape: number[] }, got a Uint8Array(4)' },
    { name: 'mask.data an Int32Array', args: opts({ mask: { data: new Int32Array(4), shape: [4] } }), error: TypeError, message: 'mask.data: expected a Uint8Array (1 = attend, 0 = masked) or a Float32Array (added to scores), got a Int32Array(4)' },
    { name: 'mask.data a Float64Array', args: opts({ mask: { data: new Float64Array(4), shape: [4] } }), error: TypeError, message: 'mask.data: expected a Uint8Array (1 = attend, 0 = masked) or a Float32Array (added to scores), got a Float64Array(4)' },
    { name: 'mask.data a Uint8ClampedArray', args: opts({ mask: { data: new Uint8ClampedArray(4), shape: [4] } }), error: TypeError, message: 'mask.data: expected a Uint8Array (1 = attend, 0 = masked) or a Float32Array (added to scores), got a Uint8ClampedArray(4)' },
    { name: 'mask.data an array of booleans', args: opts({ mask: { data: [true, true, false, true], shape: [4] } }), error: TypeError, message: 'mask.data: expected a Uint8Array (1 = attend, 0 = masked) or a Float32Array (added to scores), got an Array(4)' },
    { name: 'mask length ≠ its shape', args: opts({ mask: { data: new Uint8Array(5), shape: [4] } }), error: RangeError, message: 'mask.data: expected 4 elements for shape [4], got 5' },
    { name: 'mask shape [5] (Lk is 4)', args: opts({ mask: { data: new Uint8Array(5), shape: [5] } }), error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 4], got [5]' },
    { name: 'mask shape [3, 2, 3, 4] (B is 2)', args: opts({ mask: { data: new Uint8Array(72), shape: [3, 2, 3, 4] } }), error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 4], got [3, 2, 3, 4]' },
    { name: 'mask shape [4, 3] (transposed)', args: opts({ mask: { data: new Uint8Array(12), shape: [4, 3] } }), error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 4], got [4, 3]' },
    { name: 'mask rank 5', args: opts({ mask: { data: new Uint8Array(48), shape: [1, 2, 2, 3, 4] } }), error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 4], got [1, 2, 2, 3, 4]' },
    { name: 'mask.shape[0] 0', args: opts({ mask: { data: new Uint8Array(0), shape: [0] } }), error: RangeError, message: 'mask.shape[0]: expected a positive integer, got 0' },
    { name: 'mask detached', args: opts({ mask: { data: detach(new Uint8Array(4)), shape: [4] } }), error: TypeError, message: 'mask.data: its ArrayBuffer is detached' },
    { name: 'mask a number', args: opts({ mask: 1 }), error: TypeError, message: 'mask: expected a tensor { data: Uint8Array | Float32Array, shape: number[] }, got 1' },
    // keyLengths (Lk = 4, B = 2)
    { name: 'keyLengths a Float32Array', args: opts({ keyLengths: new Float32Array([1, 2]) }), error: TypeError, message: 'keyLengths: expected an Int32Array or an array of integers, got a Float32Array(2)' },
    { name: 'keyLengths a Uint32Array', args: opts({ keyLengths: new Uint32Array([1, 2]) }), error: TypeError, message: 'keyLengths: expected an Int32Array or an array of integers, got a Uint32Array(2)' },
    { name: 'keyLengths a string', args: opts({ keyLengths: '12' }), error: TypeError, message: 'keyLengths: expected an Int32Array or an array of integers, got "12"' },
    { name: 'keyLengths 1 entry for B = 2', args: opts({ keyLengths: new Int32Array([1]) }), error: RangeError, message: 'keyLengths: expected 2 entries (one per batch row), got 1' },
    { name: 'keyLengths 3 entries (array)', args: opts({ keyLengths: [1, 2, 3] }), error: RangeError, message: 'keyLengths: expected 2 entries (one per batch row), got 3' },
    { name: 'keyLengths[0] -1', args: opts({ keyLengths: new Int32Array([-1, 2]) }), error: RangeError, message: 'keyLengths[0]: expected an integer in [0, 4], got -1' },
    { name: 'keyLengths[1] 5 > Lk', args: opts({ keyLengths: [4, 5] }), error: RangeError, message: 'keyLengths[1]: expected an integer in [0, 4], got 5' },
    { name: 'keyLengths[1] 2^31 - 1', args: opts({ keyLengths: new Int32Array([1, 2 ** 31 - 1]) }), error: RangeError, message: 'keyLengths[1]: expected an integer in [0, 4], got 2147483647' },
    { name: 'keyLengths[0] 1.5', args: opts({ keyLengths: [1.5, 2] }), error: RangeError, message: 'keyLengths[0]: expected an integer in [0, 4], got 1.5' },
    { name: 'keyLengths[0] NaN', args: opts({ keyLengths: [NaN, 2] }), error: RangeError, message: 'keyLengths[0]: expected an integer in [0, 4], got NaN' },
    { name: 'keyLengths[0] "1"', args: opts({ keyLengths: ['1', 2] }), error: TypeError, message: 'keyLengths[0]: expected an integer, got "1"' },
    // biome-ignore lint/suspicious/noSparseArray: a hole in the array is the case under test
    { name: 'keyLengths with a hole', args: opts({ keyLengths: [, 2] }), error: TypeError, message: 'keyLengths[0]: expected an integer, got undefined' },
    { name: 'keyLengths detached', args: opts({ keyLengths: detach(new Int32Array([1, 2])) }), error: RangeError, message: 'keyLengths: expected 2 entries (one per batch row), got 0', gap: 'does not say "detached"' },
    // out
    { name: 'out a Float64Array', args: opts({ out: new Float64Array(OUT_LEN) }), error: TypeError, message: 'out: expected a Float32Array, got a Float64Array(42)' },
    { name: 'out an array', args: opts({ out: new Array(OUT_LEN).fill(0) }), error: TypeError, message: 'out: expected a Float32Array, got an Array(42)' },
    { name: 'out too small', args: opts({ out: new Float32Array(41) }), error: RangeError, message: 'out: expected a Float32Array of 42 elements, got 41' },
    { name: 'out too large', args: opts({ out: new Float32Array(43) }), error: RangeError, message: 'out: expected a Float32Array of 42 elements, got 43' },
    { name: 'out is query.data', args: () => { const q = t([2, 3, 8]); return [q, K(), V(), { out: q.data.subarray(0, OUT_LEN) }]; }, error: RangeError, message: 'out: expected memory not shared with query, got an array overlapping query' },
    { name: 'out overlaps the tail of query', args: () => { const s = shared(); return [s.query, K(), V(), { out: s.out }]; }, error: RangeError, message: 'out: expected memory not shared with query, got an array overlapping query' },
    { name: 'out overlaps key', args: () => { const k = t([2, 8, 6]); return [Q(), { data: k.data.subarray(0, 48), shape: [2, 4, 6] }, V(), { out: k.data.subarray(40, 82) }]; }, error: RangeError, message: 'out: expected memory not shared with key, got an array overlapping key' },
    { name: 'out overlaps value', args: () => { const v = V(); return [Q(), K(), v, { out: new Float32Array(v.data.buffer, 4, OUT_LEN - 4) }]; }, error: RangeError, message: 'out: expected a Float32Array of 42 elements, got 38' },
    { name: 'out overlaps value (right length)', args: () => { const buf = new Float32Array(40 + OUT_LEN); return [Q(), K(), { data: buf.subarray(0, 40), shape: [2, 4, 5] }, { out: buf.subarray(39, 81) }]; }, error: RangeError, message: 'out: expected memory not shared with value, got an array overlapping value' },
    { name: 'out overlaps a float mask', args: () => { const buf = new Float32Array(OUT_LEN + 4); return [Q(), K(), V(), { mask: { data: buf.subarray(0, 4), shape: [4] }, out: buf.subarray(2, 2 + OUT_LEN) }]; }, error: RangeError, message: 'out: expected memory not shared with mask, got an array overlapping mask' },
    { name: 'out detached', args: opts({ out: detach(new Float32Array(OUT_LEN)) }), error: RangeError, message: 'out: expected a Float32Array of 42 elements, got 0', gap: 'does not say "detached"' },
    { name: 'out lies about its length (caught natively)', args: opts({ out: lyingFloat32(5, OUT_LEN) }), error: RangeError, message: /^forward(Async)?: out: expected 42 elements, got 5$/ },
  ];
}

const weightsOnlyCases: BadCase[] = [
  { name: 'averageHeads 1', args: () => [Q(), K(), V(), { averageHeads: 1 }], error: TypeError, message: 'averageHeads: expected a boolean, got 1' },
  { name: 'averageHeads "yes"', args: () => [Q(), K(), V(), { averageHeads: 'yes' }], error: TypeError, message: 'averageHeads: expected a boolean, got "yes"' },
  {
    name: 'attention weights of 2^41 elements (valid inputs)',
    args: () => [t([1, 2 ** 20, 8]), t([1, 2 ** 20, 6]), t([1, 2 ** 20, 5])],
    error: RangeError,
    message: 'attention weights: expected at most 1099511627776 elements, got 2199023255552 (shape [1, 2, 1048576, 1048576])',
  },
];

type ForwardMethod = 'forward' | 'forwardAsync' | 'forwardWithWeights' | 'forwardWithWeightsAsync';
const FORWARD_METHODS: ForwardMethod[] = ['forward', 'forwardAsync', 'forwardWithWeights', 'forwardWithWeightsAsync'];

describe.each(FORWARD_METHODS)('MultiHeadAttention.%s', (method) => {
  const isAsync = method.endsWith('Async');
  const cases = method.startsWith('forwardWithWeights') ? [...forwardCases(), ...weightsOnlyCases] : forwardCases();
  const call = (args: unknown[]) => () => (layer[method] as (...a: unknown[]) => unknown).apply(layer, args);

  it.each(cases)('$name → $error.name', async (c) => {
    await expectFailure(c, call(c.args()), isAsync);
  });

  it('still works after all of that (valid call)', async () => {
    const r = await (layer[method] as (...a: unknown[]) => unknown).call(layer, Q(), K(), V());
    const output = (method.startsWith('forwardWithWeights') ? (r as { output: Tensor }).output : (r as Tensor));
    expect(output.shape).toEqual([2, 3, 7]);
    expect(output.data.every(Number.isFinite)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// scaledDotProductAttention(+Async): q [B=1, H=2, Lq=3, Dk=4], k [1, 2, Lk=5, 4], v [1, 2, 5, Dv=6]

describe.each([
  ['scaledDotProductAttention', false],
  ['scaledDotProductAttentionAsync', true],
] as const)('%s', (name, isAsync) => {
  const fn = (name === 'scaledDotProductAttention' ? scaledDotProductAttention : scaledDotProductAttentionAsync) as (...a: unknown[]) => unknown;
  const q = () => t([1, 2, 3, 4], 1);
  const k = () => t([1, 2, 5, 4], 2);
  const v = () => t([1, 2, 5, 6], 3);
  const opts = (o: Record<string, unknown>) => () => [q(), k(), v(), o];
  const cases: BadCase[] = [
    { name: 'q a bare Float32Array', args: () => [new Float32Array(24), k(), v()], error: TypeError, message: 'q: expected a tensor { data: Float32Array, shape: number[] }, got a Float32Array(24)' },
    { name: 'q rank 2', args: () => [t([3, 4]), k(), v()], error: RangeError, message: 'q: expected a tensor of rank 3 or 4, got rank 2 (shape [3, 4])' },
    { name: 'q rank 5', args: () => [t([1, 1, 2, 3, 4]), k(), v()], error: RangeError, message: 'q: expected a tensor of rank 3 or 4, got rank 5 (shape [1, 1, 2, 3, 4])' },
    { name: 'q.data a Float64Array', args: () => [{ data: new Float64Array(24), shape: [1, 2, 3, 4] }, k(), v()], error: TypeError, message: 'q.data: expected a Float32Array, got a Float64Array(24)' },
    { name: 'q.data detached', args: () => [{ data: detach(new Float32Array(24)), shape: [1, 2, 3, 4] }, k(), v()], error: TypeError, message: 'q.data: its ArrayBuffer is detached' },
    { name: 'q.data a getter that throws', args: () => [{ get data(): never { throw new Error('boom'); }, shape: [1, 2, 3, 4] }, k(), v()], error: Error, message: 'boom' },
    { name: 'k rank 3 with a rank-4 q', args: () => [q(), t([2, 5, 4]), v()], error: RangeError, message: 'k: expected a tensor of rank 4, got rank 3 (shape [2, 5, 4])' },
    { name: 'k Dk 3 ≠ 4', args: () => [q(), t([1, 2, 5, 3]), v()], error: RangeError, message: 'k: expected shape [1, 2, Lk, 4], got [1, 2, 5, 3]' },
    { name: 'k heads 3 ≠ 2', args: () => [q(), t([1, 3, 5, 4]), v()], error: RangeError, message: 'k: expected shape [1, 2, Lk, 4], got [1, 3, 5, 4]' },
    { name: 'k batch 2 ≠ 1', args: () => [q(), t([2, 2, 5, 4]), v()], error: RangeError, message: 'k: expected shape [1, 2, Lk, 4], got [2, 2, 5, 4]' },
    { name: 'v Lk 4 ≠ 5', args: () => [q(), k(), t([1, 2, 4, 6])], error: RangeError, message: 'v: expected shape [1, 2, 5, Dv], got [1, 2, 4, 6]' },
    { name: 'v missing', args: () => [q(), k()], error: TypeError, message: 'v: expected a tensor { data: Float32Array, shape: number[] }, got undefined' },
    { name: 'q shape product 2^62 (> 2^53)', args: () => [{ data: new Float32Array(24), shape: [2 ** 20, 2 ** 20, 2 ** 20, 4] }, k(), v()], error: RangeError, message: 'q: expected at most 1099511627776 elements, got 4611686018427388000 (shape [1048576, 1048576, 1048576, 4])' },
    { name: 'scale "1"', args: opts({ scale: '1' }), error: TypeError, message: 'scale: expected a finite number, got "1"' },
    { name: 'scale NaN', args: opts({ scale: NaN }), error: RangeError, message: 'scale: expected a finite float32 number, got NaN' },
    { name: 'scale Infinity', args: opts({ scale: Infinity }), error: RangeError, message: 'scale: expected a finite float32 number, got Infinity' },
    { name: 'scale 1e39 (finite, beyond float32)', args: opts({ scale: 1e39 }), error: RangeError, message: 'scale: expected a finite float32 number, got 1e+39' },
    { name: 'options a number', args: () => [q(), k(), v(), 1], error: TypeError, message: 'options: expected an options object, got 1' },
    { name: 'causal null', args: opts({ causal: null }), error: TypeError, message: 'causal: expected a boolean, got null' },
    { name: 'mask [2, 3, 4] (Lk is 5)', args: opts({ mask: { data: new Uint8Array(24), shape: [2, 3, 4] } }), error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [1, 2, 3, 5], got [2, 3, 4]' },
    { name: 'mask.data an Int8Array', args: opts({ mask: { data: new Int8Array(5), shape: [5] } }), error: TypeError, message: /^mask\.data: expected a Uint8Array .* got a Int8Array\(5\)$/ },
    { name: 'keyLengths [6] > Lk', args: opts({ keyLengths: [6] }), error: RangeError, message: 'keyLengths[0]: expected an integer in [0, 5], got 6' },
    { name: 'keyLengths 2 entries for B = 1', args: opts({ keyLengths: new Int32Array(2) }), error: RangeError, message: 'keyLengths: expected 1 entries (one per batch row), got 2' },
    { name: 'out too small', args: opts({ out: new Float32Array(35) }), error: RangeError, message: 'out: expected a Float32Array of 36 elements, got 35' },
    { name: 'out a Uint8Array', args: opts({ out: new Uint8Array(36) }), error: TypeError, message: 'out: expected a Float32Array, got a Uint8Array(36)' },
    { name: 'out overlaps v', args: () => { const big = t([1, 2, 8, 6]); return [q(), k(), { data: big.data.subarray(0, 60), shape: [1, 2, 5, 6] }, { out: big.data.subarray(50, 86) }]; }, error: RangeError, message: 'out: expected memory not shared with v, got an array overlapping v' },
  ];

  it.each(cases)('$name → $error.name', async (c) => {
    await expectFailure(c, () => fn(...c.args()), isAsync);
  });
});

// ---------------------------------------------------------------------------------------
// setWeights

describe('MultiHeadAttention.setWeights', () => {
  const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, kdim: 6, vdim: 5, outputDim: 7, seed: 2 });
  const noBias = new MultiHeadAttention({ embedDim: 8, numHeads: 2, useBias: false, seed: 2 });
  const cases: (BadCase & { target?: MultiHeadAttention })[] = [
    { name: 'weights a string', args: () => ['wq'], error: TypeError, message: 'setWeights: weights: expected an object of tensors keyed by weight name, got "wq"' },
    { name: 'weights null', args: () => [null], error: TypeError, message: 'setWeights: weights: expected an object of tensors keyed by weight name, got null' },
    { name: 'weights an array', args: () => [[t([8, 8])]], error: TypeError, message: 'setWeights: weights: expected an object of tensors keyed by weight name, got an Array(1)' },
    { name: 'weights a Float32Array', args: () => [new Float32Array(64)], error: TypeError, message: 'setWeights: weights: expected an object of tensors keyed by weight name, got a Float32Array(64)' },
    { name: 'unknown name "wz"', args: () => [{ wz: t([8, 8]) }], error: RangeError, message: 'setWeights: expected a weight name among wq, bq, wk, bk, wv, bv, wo, bo, got "wz"' },
    { name: 'unknown name "__proto__"', args: () => [JSON.parse('{"__proto__": {"data": [], "shape": [1]}}')], error: RangeError, message: 'setWeights: expected a weight name among wq, bq, wk, bk, wv, bv, wo, bo, got "__proto__"' },
    { name: 'a bias on a useBias: false layer', target: noBias, args: () => [{ bq: t([8]) }], error: RangeError, message: 'setWeights: expected a weight name among wq, wk, wv, wo (this layer has useBias: false), got "bq"' },
    { name: 'wq [8, 9] (expected [8, 8])', args: () => [{ wq: t([8, 9]) }], error: RangeError, message: 'setWeights: wq: expected shape [8, 8], got [8, 9]' },
    { name: 'wk [8, 8] (kdim is 6)', args: () => [{ wk: t([8, 8]) }], error: RangeError, message: 'setWeights: wk: expected shape [6, 8], got [8, 8]' },
    { name: 'wv [5, 9]', args: () => [{ wv: t([5, 9]) }], error: RangeError, message: 'setWeights: wv: expected shape [5, 8], got [5, 9]' },
    { name: 'wo transposed [7, 8]', args: () => [{ wo: t([7, 8]) }], error: RangeError, message: 'setWeights: wo: expected shape [8, 7], got [7, 8]' },
    { name: 'bq rank 2', args: () => [{ bq: t([1, 8]) }], error: RangeError, message: 'setWeights: bq: expected a tensor of rank 1, got rank 2 (shape [1, 8])' },
    { name: 'bo [8] (outputDim is 7)', args: () => [{ bo: t([8]) }], error: RangeError, message: 'setWeights: bo: expected shape [7], got [8]' },
    { name: 'wq data a Float64Array', args: () => [{ wq: { data: new Float64Array(64), shape: [8, 8] } }], error: TypeError, message: 'setWeights: wq.data: expected a Float32Array, got a Float64Array(64)' },
    { name: 'wq a plain nested array', args: () => [{ wq: [[1, 2]] }], error: TypeError, message: 'setWeights: wq: expected a tensor { data: Float32Array, shape: number[] }, got an Array(1)' },
    { name: 'wq null', args: () => [{ wq: null }], error: TypeError, message: 'setWeights: wq: expected a tensor { data: Float32Array, shape: number[] }, got null' },
    { name: 'wq length ≠ shape', args: () => [{ wq: { data: new Float32Array(63), shape: [8, 8] } }], error: RangeError, message: 'setWeights: wq.data: expected 64 elements for shape [8, 8], got 63' },
    { name: 'wq detached', args: () => [{ wq: { data: detach(new Float32Array(64)), shape: [8, 8] } }], error: TypeError, message: 'setWeights: wq.data: its ArrayBuffer is detached' },
    { name: 'wq lies about its length (caught natively)', args: () => [{ wq: { data: lyingFloat32(8, 64), shape: [8, 8] } }], error: RangeError, message: 'setWeight: data: expected 64 elements, got 8', gap: 'native message names "data", not wq' },
  ];
  it.each(cases)('$name → $error.name', async (c) => {
    const target = c.target ?? m;
    const before = target.getWeights();
    await expectFailure(c, () => target.setWeights(...(c.args() as [never])), false);
    // All-or-nothing: the layer is unchanged (except for the lying array, which passes lib).
    const after = target.getWeights();
    for (const n of Object.keys(before) as (keyof typeof before)[]) expect(after[n]!.data, n).toEqual(before[n]!.data);
  });

  it('a bad entry after a good one applies neither', () => {
    const before = m.getWeights();
    expect(() => m.setWeights({ wq: t([8, 8], 9), wk: t([6, 9]) })).toThrow('setWeights: wk: expected shape [6, 8], got [6, 9]');
    expect(m.getWeights().wq!.data).toEqual(before.wq!.data);
  });
});

// ---------------------------------------------------------------------------------------
// SelfAttention

describe('SelfAttention', () => {
  const ctorCases: BadCase[] = [
    { name: 'embedSize "8"', args: () => ['8', 2], error: TypeError, message: 'embedSize: expected a positive integer, got "8"' },
    { name: 'embedSize 0', args: () => [0, 2], error: RangeError, message: 'embedSize: expected a positive integer, got 0' },
    { name: 'heads -2', args: () => [8, -2], error: RangeError, message: 'heads: expected a positive integer, got -2' },
    { name: 'heads 3 does not divide 8', args: () => [8, 3], error: RangeError, message: 'heads: expected a divisor of embedSize (8), got 3' },
    { name: 'heads undefined', args: () => [8], error: TypeError, message: 'heads: expected a positive integer, got undefined' },
    { name: 'options a string', args: () => [8, 2, 'seed'], error: TypeError, message: 'SelfAttention: options: expected an options object, got "seed"' },
    { name: 'seed "1"', args: () => [8, 2, { seed: '1' }], error: TypeError, message: 'seed: expected an integer, got "1"' },
    { name: 'useBias 1', args: () => [8, 2, { useBias: 1 }], error: TypeError, message: 'useBias: expected a boolean, got 1' },
  ];
  it.each(ctorCases)('new SelfAttention: $name → $error.name', async (c) => {
    await expectFailure(c, () => new SelfAttention(...(c.args() as [number, number])), false);
  });

  const sa = new SelfAttention(8, 2, { seed: 3 });
  const x = () => t([2, 3, 8]);
  // call(values, keys, query, mask): the messages use the layer's names (query, key, value).
  const callCases: BadCase[] = [
    { name: 'values a bare Float32Array', args: () => [new Float32Array(48), x(), x()], error: TypeError, message: 'value: expected a tensor { data: Float32Array, shape: number[] }, got a Float32Array(48)' },
    { name: 'keys of another batch size', args: () => [x(), t([1, 3, 8]), x()], error: RangeError, message: 'key: expected shape [2, Lk, 8], got [1, 3, 8]' },
    { name: 'query feature size 4', args: () => [x(), x(), t([2, 3, 4])], error: RangeError, message: 'query: expected shape [B, Lq, 8], got [2, 3, 4]' },
    { name: 'values length ≠ keys length', args: () => [t([2, 4, 8]), x(), x()], error: RangeError, message: 'value: expected shape [2, 3, 8], got [2, 4, 8]' },
    { name: 'query null', args: () => [x(), x(), null], error: TypeError, message: 'query: expected a tensor { data: Float32Array, shape: number[] }, got null' },
    { name: 'mask shape [4]', args: () => [x(), x(), x(), { data: new Uint8Array(4), shape: [4] }], error: RangeError, message: 'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 3], got [4]' },
    { name: 'mask.data an Int32Array', args: () => [x(), x(), x(), { data: new Int32Array(3), shape: [3] }], error: TypeError, message: /^mask\.data: expected a Uint8Array .*, got a Int32Array\(3\)$/ },
    { name: 'float mask length ≠ shape', args: () => [x(), x(), x(), { data: new Float32Array(4), shape: [3] }], error: RangeError, message: 'mask.data: expected 3 elements for shape [3], got 4' },
  ];
  it.each(callCases)('call: $name → $error.name', async (c) => {
    await expectFailure(c, () => (sa.call as (...a: unknown[]) => unknown).apply(sa, c.args()), false);
  });
  it.each(callCases)('callAsync: $name → $error.name (rejects)', async (c) => {
    await expectFailure(c, () => (sa.callAsync as (...a: unknown[]) => unknown).apply(sa, c.args()), true);
  });

  it('call: a mask that is not an object → TypeError', () => {
    expect(() => sa.call(x(), x(), x(), 5 as never)).toThrow(
      new TypeError('mask: expected a tensor { data: Uint8Array | Float32Array, shape }, got 5'),
    );
  });

  // Known bug: callAsync is not `async`; asKeepMask() runs before forwardAsync and its
  // TypeError escapes synchronously. Fix in lib/self-attention.ts: `async callAsync(...)`.
  it('callAsync: a mask that is not an object rejects (does not throw synchronously)', async () => {
    const err = await failure(() => sa.callAsync(x(), x(), x(), 5 as never), true);
    expect(err).toBeInstanceOf(TypeError);
  });
});

// ---------------------------------------------------------------------------------------
// matmul

describe('matmul', () => {
  const a = () => t([2, 3], 1);
  const b = () => t([3, 4], 2);
  const cases: BadCase[] = [
    { name: 'a a plain nested array', args: () => [[[1, 2, 3], [4, 5, 6]], b()], error: TypeError, message: 'a: expected a tensor { data: Float32Array, shape: number[] }, got an Array(2)' },
    { name: 'a rank 3', args: () => [t([1, 2, 3]), b()], error: RangeError, message: 'a: expected a tensor of rank 2, got rank 3 (shape [1, 2, 3])' },
    { name: 'b.data a Float64Array', args: () => [a(), { data: new Float64Array(12), shape: [3, 4] }], error: TypeError, message: 'b.data: expected a Float32Array, got a Float64Array(12)' },
    { name: 'inner sizes 3 vs 4', args: () => [a(), t([4, 4])], error: RangeError, message: 'b: expected shape [3, N], got [4, 4]' },
    { name: 'b undefined', args: () => [a()], error: TypeError, message: 'b: expected a tensor { data: Float32Array, shape: number[] }, got undefined' },
    { name: 'a shape [2^16, 2^16] (2^32 > 2^31), 6 real', args: () => [{ data: new Float32Array(6), shape: [2 ** 16, 2 ** 16] }, b()], error: RangeError, message: 'a.data: expected 4294967296 elements for shape [65536, 65536], got 6' },
    { name: 'a shape [2^21, 2^21] (> 2^40)', args: () => [{ data: new Float32Array(6), shape: [2 ** 21, 2 ** 21] }, b()], error: RangeError, message: 'a: expected at most 1099511627776 elements, got 4398046511104 (shape [2097152, 2097152])' },
    { name: 'a detached', args: () => [{ data: detach(new Float32Array(6)), shape: [2, 3] }, b()], error: TypeError, message: 'a.data: its ArrayBuffer is detached' },
    { name: 'out a string', args: () => [a(), b(), 'out'], error: TypeError, message: 'out: expected a Float32Array, got "out"' },
    { name: 'out too small', args: () => [a(), b(), new Float32Array(7)], error: RangeError, message: 'out: expected a Float32Array of 8 elements, got 7' },
    { name: 'out overlaps a', args: () => { const buf = new Float32Array(12); return [{ data: buf.subarray(0, 6), shape: [2, 3] }, b(), buf.subarray(4, 12)]; }, error: RangeError, message: 'out: expected memory not shared with a, got an array overlapping a' },
    { name: 'out is b', args: () => { const bb = t([3, 4]); return [t([3, 3]), bb, bb.data]; }, error: RangeError, message: 'out: expected memory not shared with b, got an array overlapping b' },
    { name: 'out lies about its length (caught natively)', args: () => [a(), b(), lyingFloat32(3, 8)], error: RangeError, message: 'matmul: out: expected 8 elements, got 3' },
  ];
  it.each(cases)('$name → $error.name', async (c) => {
    await expectFailure(c, () => (matmul as (...x: unknown[]) => unknown)(...c.args()), false);
  });
});

// ---------------------------------------------------------------------------------------
// setNumThreads

describe('setNumThreads', () => {
  const cases: BadCase[] = [
    { name: '0', args: () => [0], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got 0' },
    { name: '-1', args: () => [-1], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got -1' },
    { name: '1.5', args: () => [1.5], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got 1.5' },
    { name: 'NaN', args: () => [NaN], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got NaN' },
    { name: '257', args: () => [257], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got 257' },
    { name: 'Infinity', args: () => [Infinity], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got Infinity' },
    { name: '2^53', args: () => [2 ** 53], error: RangeError, message: 'setNumThreads: n: expected an integer in [1, 256], got 9007199254740992' },
    { name: '"2"', args: () => ['2'], error: TypeError, message: 'setNumThreads: n: expected an integer in [1, 256], got "2"' },
    { name: 'null', args: () => [null], error: TypeError, message: 'setNumThreads: n: expected an integer in [1, 256], got null' },
    { name: 'undefined', args: () => [], error: TypeError, message: 'setNumThreads: n: expected an integer in [1, 256], got undefined' },
    { name: '2n (BigInt)', args: () => [2n], error: TypeError, message: 'setNumThreads: n: expected an integer in [1, 256], got 2' },
  ];
  it.each(cases)('$name → $error.name', async (c) => {
    const before = getNumThreads();
    await expectFailure(c, () => (setNumThreads as (...a: unknown[]) => unknown)(...c.args()), false);
    expect(getNumThreads()).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------
// Valid but unusual memory: SharedArrayBuffer, offset views, Node Buffers

/** Copies `t` into a new view at `byteOffset` of a larger buffer of the same kind. */
function inBigBuffer<T extends Float32Array | Uint8Array | Int32Array>(src: T, elementOffset: number, shared = false): T {
  const Ctor = src.constructor as { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number };
  const bytes = (src.length + elementOffset + 13) * Ctor.BYTES_PER_ELEMENT;
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const view = new Ctor(buffer, elementOffset * Ctor.BYTES_PER_ELEMENT, src.length);
  view.set(src as never);
  return view;
}

function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let first = -1;
  for (let i = 0; i < actual.length && first < 0; i++) if (!Object.is(actual[i], expected[i])) first = i;
  expect(first, `first difference at ${first}: ${actual[first]} vs ${expected[first]}`).toBe(-1);
}

describe.each([
  ['offset views into larger ArrayBuffers', false],
  ['views over SharedArrayBuffers (at an offset)', true],
] as const)('valid: %s give the same result as plain arrays', (_label, shared) => {
  const q = t([2, 3, 8], 1);
  const k = t([2, 4, 6], 2);
  const v = t([2, 4, 5], 3);
  const maskData = new Uint8Array([1, 0, 1, 1, 1, 1, 0, 1]);
  const kl = new Int32Array([3, 4]);
  const view = <T extends Float32Array | Uint8Array | Int32Array>(a: T, off: number): T => inBigBuffer(a, off, shared);

  it('MultiHeadAttention.forward / forwardAsync / forwardWithWeights, with mask, keyLengths and out', async () => {
    const options = { mask: { data: maskData, shape: [2, 1, 1, 4] }, keyLengths: kl, causal: true };
    const expected = layer.forward(q, k, v, options).data;
    const expectedW = layer.forwardWithWeights(q, k, v, options).weights.data;
    const vq = { data: view(q.data, 3), shape: q.shape };
    const vk = { data: view(k.data, 17), shape: k.shape };
    const vv = { data: view(v.data, 1), shape: v.shape };
    const vOptions = { mask: { data: view(maskData, 5), shape: [2, 1, 1, 4] }, keyLengths: view(kl, 7), causal: true };
    const out = view(new Float32Array(OUT_LEN).fill(NaN), 9);
    expectSameBits(layer.forward(vq, vk, vv, { ...vOptions, out }).data, expected);
    expectSameBits(out, expected);
    out.fill(NaN);
    expectSameBits((await layer.forwardAsync(vq, vk, vv, { ...vOptions, out })).data, expected);
    const w = layer.forwardWithWeights(vq, vk, vv, vOptions);
    expectSameBits(w.output.data, expected);
    expectSameBits(w.weights.data, expectedW);
  });

  it('self-attention with query, key and value views of one buffer (no overlap with out)', () => {
    const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 4 });
    const x = t([2, 3, 8], 5);
    const expected = m.forward(x).data;
    const xv = { data: view(x.data, 11), shape: x.shape };
    expectSameBits(m.forward(xv).data, expected);
    expectSameBits(m.forward(xv, xv, xv).data, expected);
    // two distinct views over the same bytes
    const xv2 = { data: new Float32Array(xv.data.buffer, xv.data.byteOffset, xv.data.length), shape: x.shape };
    expectSameBits(m.forward(xv, xv2, xv2).data, expected);
  });

  it('scaledDotProductAttention(+Async) and matmul', async () => {
    const sq = t([1, 2, 3, 4], 1);
    const sk = t([1, 2, 5, 4], 2);
    const sv = t([1, 2, 5, 6], 3);
    const mask = { data: new Float32Array([0, -1, -Infinity, 0.5, 0]), shape: [5] };
    const expected = scaledDotProductAttention(sq, sk, sv, { mask }).data;
    const args = [
      { data: view(sq.data, 1), shape: sq.shape },
      { data: view(sk.data, 2), shape: sk.shape },
      { data: view(sv.data, 3), shape: sv.shape },
    ] as const;
    const vmask = { data: view(mask.data, 4), shape: [5] };
    expectSameBits(scaledDotProductAttention(...args, { mask: vmask }).data, expected);
    expectSameBits((await scaledDotProductAttentionAsync(...args, { mask: vmask })).data, expected);
    const a = t([5, 7], 1);
    const b = t([7, 3], 2);
    const out = view(new Float32Array(15), 6);
    matmul({ data: view(a.data, 5), shape: a.shape }, { data: view(b.data, 2), shape: b.shape }, out);
    expectSameBits(out, matmul(a, b).data);
  });

  it('setWeights from a view copies exactly those elements', () => {
    const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 5 });
    const wq = t([8, 8], 6);
    m.setWeights({ wq: { data: view(wq.data, 3), shape: [8, 8] } });
    expectSameBits(m.getWeights().wq!.data, wq.data);
  });
});

it('valid: a Node Buffer (a pooled Uint8Array at an offset) works as a bool mask', () => {
  const q = Q();
  const k = K();
  const v = V();
  const bufMask = Buffer.from([1, 0, 1, 1]);
  expect(bufMask.byteOffset === 0 && bufMask.buffer.byteLength === 4).toBe(false); // a view into the pool
  expectSameBits(layer.forward(q, k, v, { mask: { data: bufMask, shape: [4] } }).data, layer.forward(q, k, v, { mask: { data: new Uint8Array([1, 0, 1, 1]), shape: [4] } }).data);
});

it('valid: out adjacent to (not overlapping) query in one buffer', () => {
  const buffer = new ArrayBuffer(4 * (48 + OUT_LEN));
  const query = { data: new Float32Array(buffer, 0, 48), shape: [2, 3, 8] };
  query.data.set(Q().data);
  const out = new Float32Array(buffer, 4 * 48, OUT_LEN);
  layer.forward(query, K(), V(), { out });
  expectSameBits(out, layer.forward(Q(), K(), V()).data);
  expectSameBits(query.data, Q().data);
});

// Known bug: the overlap check compares ArrayBuffer objects, and two SharedArrayBuffer
// objects can share memory (structuredClone, postMessage). The aliasing goes unnoticed and
// the result is silently wrong. Fix: compare data address ranges natively (the binding has
// the pointers) or document it.
it('out aliasing query through a cloned SharedArrayBuffer is refused', () => {
  const sab = new SharedArrayBuffer(4 * 48);
  const query = { data: new Float32Array(sab), shape: [2, 3, 8] };
  query.data.set(Q().data);
  const out = new Float32Array(structuredClone(sab), 0, OUT_LEN);
  expect(() => layer.forward(query, K(), V(), { out })).toThrow(RangeError);
});

// Known bug: lib's overlap check covers query/key/value/mask but not keyLengths, so an
// `out` sharing memory with keyLengths is accepted and overwrites it while the kernel may
// still read it (clamped, so memory-safe, but the caller's keyLengths are clobbered).
// Fix: add ['keyLengths', r.keyLengths] to the inputs passed to outputArray() in
// multi-head-attention.ts and scaled-dot-product-attention.ts.
it('out overlapping keyLengths is refused like the other inputs', () => {
  const buffer = new ArrayBuffer(4 * OUT_LEN);
  const out = new Float32Array(buffer);
  const keyLengths = new Int32Array(buffer, 4 * (OUT_LEN - 2), 2);
  keyLengths.set([4, 3]);
  expect(() => layer.forward(Q(), K(), V(), { out, keyLengths })).toThrow(RangeError);
});

// ---------------------------------------------------------------------------------------
// Non-finite values: documented behaviour. NaN/Inf never crash and never throw; they
// propagate to the output rows that depend on them, and only to those.

describe('non-finite values propagate to the affected rows only', () => {
  const q = Q();
  const k = K();
  const v = V();
  const clean = layer.forward(q, k, v).data;
  const O = 7;
  const withValue = (x: Tensor, index: number, value: number): Tensor => {
    const data = x.data.slice();
    data[index] = value;
    return { data, shape: x.shape };
  };
  /** One char per output row (b, i): N = all NaN, . = all finite; others must equal `ref`. */
  function rowPattern(out: Float32Array, ref: Float32Array | null = clean): string {
    let s = '';
    for (let r = 0; r < out.length / O; r++) {
      const row = out.subarray(r * O, (r + 1) * O);
      if (row.every(Number.isNaN)) s += 'N';
      else if (row.every(Number.isFinite)) {
        if (ref) for (let c = 0; c < O; c++) expect(Math.abs(row[c]! - ref[r * O + c]!), `row ${r} col ${c}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(ref[r * O + c]!)));
        s += '.';
      } else s += '?';
    }
    return s;
  }

  it.each([
    { name: 'NaN in query (b=0, i=1)', input: () => [withValue(q, 1 * 8 + 2, NaN), k, v], pattern: '.N....' },
    { name: '+Infinity in query (b=1, i=2)', input: () => [withValue(q, (3 + 2) * 8, Infinity), k, v], pattern: '.....N' },
    { name: '-Infinity in query (b=0, i=0)', input: () => [withValue(q, 3, -Infinity), k, v], pattern: 'N.....' },
    { name: 'NaN in key (b=1, j=2): every query of b=1 sees it', input: () => [q, withValue(k, (4 + 2) * 6, NaN), v], pattern: '...NNN' },
    { name: 'NaN in value (b=0, j=0)', input: () => [q, k, withValue(v, 0, NaN)], pattern: 'NNN...' },
  ])('$name → rows $pattern', ({ input, pattern }) => {
    const [a, b, c] = input() as [Tensor, Tensor, Tensor];
    expect(rowPattern(layer.forward(a, b, c).data)).toBe(pattern);
  });

  it('a NaN key excluded by keyLengths, a bool mask or causal is never seen', () => {
    const nk = withValue(k, (4 + 3) * 6 + 1, NaN); // b=1, j=3
    const kl = { keyLengths: [4, 3] };
    expect(rowPattern(layer.forward(q, nk, v, kl).data, layer.forward(q, k, v, kl).data)).toBe('......');
    const mask = { mask: { data: new Uint8Array([1, 1, 1, 0]), shape: [4] } };
    expect(rowPattern(layer.forward(q, nk, v, mask).data, layer.forward(q, k, v, mask).data)).toBe('......');
    // causal, Lq = 3, Lk = 4: query i sees keys j <= i + 1, so only i = 2 sees j = 3.
    const causal = { causal: true };
    expect(rowPattern(layer.forward(q, nk, v, causal).data, layer.forward(q, k, v, causal).data)).toBe('.....N');
  });

  it('a NaN value row is skipped by keyLengths, but masked-out value rows still reach P·V as 0 · NaN', () => {
    const nv = withValue(v, (4 + 3) * 5, NaN); // b=1, j=3
    const kl = { keyLengths: [4, 3] };
    expect(rowPattern(layer.forward(q, k, nv, kl).data, layer.forward(q, k, v, kl).data)).toBe('......');
    // Documented limitation: a bool mask or causal hides key j from the softmax, but the
    // probability 0 still multiplies value row j, so NaN/Inf there propagate.
    const mask = { mask: { data: new Uint8Array([1, 1, 1, 0]), shape: [4] } };
    expect(rowPattern(layer.forward(q, k, nv, mask).data, null)).toBe('...NNN');
    expect(rowPattern(layer.forward(q, k, nv, { causal: true }).data, null)).toBe('...NNN');
  });

  it('NaN in an additive mask element poisons that (b, h, i) row only; -Infinity rows give zeros', () => {
    const m = new Float32Array(2 * 2 * 3 * 4);
    m[((1 * 2 + 0) * 3 + 2) * 4 + 1] = NaN; // b=1, h=0, i=2, j=1
    const mask = { data: m, shape: [2, 2, 3, 4] };
    expect(rowPattern(layer.forward(q, k, v, { mask }).data)).toBe('.....N');
    // every key of (b=0, i=1) masked in both heads → that row of attention is 0 → output = bo·… finite
    const full = new Float32Array(2 * 2 * 3 * 4);
    for (const h of [0, 1]) full.fill(-Infinity, ((0 * 2 + h) * 3 + 1) * 4, ((0 * 2 + h) * 3 + 2) * 4);
    const w = layer.forwardWithWeights(q, k, v, { mask: { data: full, shape: [2, 2, 3, 4] } });
    expect(rowPattern(w.output.data, null)).toBe('......');
    for (const h of [0, 1]) expect(Array.from(w.weights.data.subarray(((0 * 2 + h) * 3 + 1) * 4, ((0 * 2 + h) * 3 + 2) * 4))).toEqual([0, 0, 0, 0]);
  });

  it('NaN in weights: bo[3] poisons column 3; wq[0, 0] poisons everything', () => {
    const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, kdim: 6, vdim: 5, outputDim: 7, seed: 1 });
    const bo = new Float32Array(7);
    bo[3] = NaN;
    m.setWeights({ bo: { data: bo, shape: [7] } });
    const out = m.forward(q, k, v).data;
    for (let r = 0; r < 6; r++) for (let c = 0; c < 7; c++) expect(Number.isNaN(out[r * 7 + c]!), `row ${r} col ${c}`).toBe(c === 3);
    const wq = m.getWeights().wq!;
    wq.data[0] = NaN;
    m.setWeights({ bo: { data: new Float32Array(7), shape: [7] }, wq });
    expect(m.forward(q, k, v).data.every(Number.isNaN)).toBe(true);
    // Infinity in a weight: Inf - Inf and 0 · Inf give NaN too, never a crash
    wq.data[0] = Infinity;
    m.setWeights({ wq });
    expect(() => m.forward(q, k, v)).not.toThrow();
  });

  it('scaledDotProductAttention: NaN in q row (b=0, h=1, i=2) → that output row only', () => {
    const sq = t([1, 2, 3, 4], 1);
    const sk = t([1, 2, 5, 4], 2);
    const sv = t([1, 2, 5, 6], 3);
    const ref = scaledDotProductAttention(sq, sk, sv).data;
    const bad = withValue(sq, (1 * 3 + 2) * 4 + 1, NaN);
    const out = scaledDotProductAttention(bad, sk, sv).data;
    for (let r = 0; r < 6; r++) {
      const row = out.subarray(r * 6, r * 6 + 6);
      if (r === 5) expect(row.every(Number.isNaN)).toBe(true);
      else expectSameBits(row, ref.subarray(r * 6, r * 6 + 6));
    }
  });
});
