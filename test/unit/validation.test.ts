// The messages users see: argument named, expected and actual given, right error class.
import { describe, expect, it } from 'vitest';
import {
  fromPyTorch,
  loadSafetensors,
  matmul,
  MultiHeadAttention,
  scaledDotProductAttention,
  SelfAttention,
  setNumThreads,
  tensor,
  toPyTorch,
} from '../../lib/index';

const t = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);

describe('tensor()', () => {
  it('wraps a Float32Array without copying and copies arrays of numbers', () => {
    const data = new Float32Array(6);
    expect(tensor(data, [2, 3]).data).toBe(data);
    expect(Array.from(tensor([1, 2, 3], [3]).data)).toEqual([1, 2, 3]);
  });
  it('rejects a length that does not match the shape', () => {
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow(RangeError);
    expect(() => tensor(new Float32Array(5), [2, 3])).toThrow('tensor: data: expected 6 elements for shape [2, 3], got 5');
  });
  it.each([[[0, 3]], [[2.5]], [[-1]], [[NaN]], [['2']]])('rejects shape %j', (shape) => {
    expect(() => tensor(new Float32Array(6), shape as number[])).toThrow(/tensor\.shape\[0\]: expected a positive integer/);
  });
  it('rejects data that is not numeric', () => {
    expect(() => tensor('abc' as unknown as Float32Array, [3])).toThrow(TypeError);
  });
});

describe('MultiHeadAttention validation', () => {
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });

  it('names the argument, the expected and the actual shape', () => {
    expect(() => mha.forward(t([2, 7, 5]))).toThrow(RangeError);
    expect(() => mha.forward(t([2, 7, 5]))).toThrow('query: expected shape [B, Lq, 8], got [2, 7, 5]');
    expect(() => mha.forward(t([2, 7, 8]), t([3, 4, 8]))).toThrow('key: expected shape [2, Lk, 8], got [3, 4, 8]');
    expect(() => mha.forward(t([2, 7, 8]), t([2, 4, 8]), t([2, 5, 8]))).toThrow('value: expected shape [2, 4, 8], got [2, 5, 8]');
    expect(() => mha.forward(t([7, 8]), t([2, 4, 8]))).toThrow(/key: expected a tensor of rank 2, got rank 3/);
  });

  it('rejects the wrong kind of thing with a TypeError', () => {
    expect(() => mha.forward([1, 2, 3] as unknown as never)).toThrow(TypeError);
    expect(() => mha.forward({ data: new Float64Array(16), shape: [2, 8] } as unknown as never)).toThrow(
      'query.data: expected a Float32Array, got a Float64Array(16)',
    );
    expect(() => mha.forward(t([2, 8]), null, null, { causal: 1 as unknown as boolean })).toThrow(
      'causal: expected a boolean, got 1',
    );
  });

  it('checks masks: dtype and broadcastable shape', () => {
    const q = t([2, 3, 8]);
    expect(() => mha.forward(q, q, q, { mask: { data: new Int32Array(3), shape: [3] } as never })).toThrow(TypeError);
    expect(() => mha.forward(q, q, q, { mask: { data: new Uint8Array(4), shape: [4] } })).toThrow(
      'mask: expected a shape broadcastable to [B, H, Lq, Lk] = [2, 2, 3, 3], got [4]',
    );
    expect(() => mha.forward(q, q, q, { mask: { data: new Uint8Array(4), shape: [3] } })).toThrow(
      'mask.data: expected 3 elements for shape [3], got 4',
    );
  });

  it('checks key lengths and out', () => {
    const q = t([2, 3, 8]);
    expect(() => mha.forward(q, q, q, { keyLengths: new Int32Array([1]) })).toThrow(
      'keyLengths: expected 2 entries (one per batch row), got 1',
    );
    expect(() => mha.forward(q, q, q, { keyLengths: new Int32Array([1, 4]) })).toThrow(
      'keyLengths[1]: expected an integer in [0, 3], got 4',
    );
    expect(() => mha.forward(q, q, q, { out: new Float32Array(3) })).toThrow(
      'out: expected a Float32Array of 48 elements, got 3',
    );
    expect(() => mha.forward(q, q, q, { out: q.data })).toThrow(
      'out: expected memory not shared with query, got an array overlapping query',
    );
  });

  it('checks constructor options', () => {
    expect(() => new MultiHeadAttention({ embedDim: 10, numHeads: 3 })).toThrow(
      'numHeads: expected a divisor of embedDim (10) when keyDim is not given, got 3',
    );
    expect(() => new MultiHeadAttention({ embedDim: 0, numHeads: 1 })).toThrow(RangeError);
    expect(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, scale: Infinity })).toThrow(
      'scale: expected a finite float32 number, got Infinity',
    );
    expect(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, scale: 1e39 })).toThrow(
      'scale: expected a finite float32 number, got 1e+39',
    );
    expect(() => new MultiHeadAttention(undefined as never)).toThrow(TypeError);
  });

  it('checks setWeights before applying any', () => {
    const before = mha.getWeights();
    expect(() => mha.setWeights({ wq: t([8, 8]), wk: t([8, 9]) })).toThrow('setWeights: wk: expected shape [8, 8], got [8, 9]');
    expect(() => mha.setWeights({ wz: t([8, 8]) } as never)).toThrow(/setWeights: expected a weight name among wq, bq/);
    expect(mha.getWeights().wq!.data).toEqual(before.wq!.data);
  });
});

describe('other entry points', () => {
  it('scaledDotProductAttention checks ranks and shapes', () => {
    expect(() => scaledDotProductAttention(t([1, 2, 3, 4]), t([1, 2, 5, 3]), t([1, 2, 5, 4]))).toThrow(
      'k: expected shape [1, 2, Lk, 4], got [1, 2, 5, 3]',
    );
  });
  it('SelfAttention requires heads to divide embedSize', () => {
    expect(() => new SelfAttention(10, 4)).toThrow('heads: expected a divisor of embedSize (10), got 4');
  });
  it('matmul checks inner dimensions', () => {
    expect(() => matmul(t([2, 3]), t([4, 2]))).toThrow('b: expected shape [3, N], got [4, 2]');
  });
  it('setNumThreads takes an integer in [1, 256]', () => {
    expect(() => setNumThreads(0)).toThrow(RangeError);
    expect(() => setNumThreads(1.5)).toThrow('setNumThreads: n: expected an integer in [1, 256], got 1.5');
    expect(() => setNumThreads('2' as unknown as number)).toThrow(TypeError);
  });
});

describe('unknown option names are refused, naming the key and the nearest valid name', () => {
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
  const x = t([1, 3, 8]);
  const q4 = t([1, 2, 3, 4]);

  it.each([
    [
      'forward',
      () => mha.forward(x, null, null, { causl: true } as never),
      'options: unknown option "causl"; did you mean "causal"?',
    ],
    ['forward (keyLength)', () => mha.forward(x, null, null, { keyLength: [3] } as never), 'did you mean "keyLengths"?'],
    [
      'forwardWithWeights',
      () => mha.forwardWithWeights(x, null, null, { averageHead: true } as never),
      'did you mean "averageHeads"?',
    ],
    [
      'forward refuses averageHeads',
      () => mha.forward(x, null, null, { averageHeads: true } as never),
      'unknown option "averageHeads"',
    ],
    [
      'constructor',
      () => new MultiHeadAttention({ embedDim: 8, numHeads: 2, numKVHeads: 1 } as never),
      'MultiHeadAttention: options: unknown option "numKVHeads"; did you mean "numKvHeads"?',
    ],
    [
      'constructor (typo)',
      () => new MultiHeadAttention({ embedDim: 8, numHeads: 2, usebias: false } as never),
      'did you mean "useBias"?',
    ],
    [
      'SelfAttention',
      () => new SelfAttention(8, 2, { sead: 1 } as never),
      'SelfAttention: options: unknown option "sead"; did you mean "seed"?',
    ],
    ['scaledDotProductAttention', () => scaledDotProductAttention(q4, q4, q4, { scael: 1 } as never), 'did you mean "scale"?'],
    [
      'fromPyTorch',
      () => fromPyTorch(toPyTorch(mha), { numHeads: 2, prefx: 'attn.' } as never),
      'fromPyTorch: options: unknown option "prefx"; did you mean "prefix"?',
    ],
    [
      'loadSafetensors',
      () => loadSafetensors(new Uint8Array(0), { skipUnsuported: true } as never),
      'did you mean "skipUnsupported"?',
    ],
  ])('%s', (_name, call, message) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });

  it('lists the valid names, and gives no hint when nothing is close', () => {
    expect(() => mha.forward(x, null, null, { zzzzzzzz: 1 } as never)).toThrow(
      'options: unknown option "zzzzzzzz" (expected: mask, causal, keyLengths, sequenceLengths, cache, cacheRows, out)',
    );
  });

  it('async forms reject with the same TypeError', async () => {
    await expect(mha.forwardAsync(x, null, null, { causl: true } as never)).rejects.toThrow(TypeError);
  });
});
