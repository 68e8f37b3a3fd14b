// Packed variable-length batches: forward(x [T, E], null, null, { sequenceLengths }) gives,
// row for row, what a separate forward of each sequence gives (block-diagonal attention,
// causal per sequence, masks read at each sequence's diagonal block), for lengths that
// include 1, sync and async; and bad lengths are refused with clear errors.
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, type Tensor } from '../../lib/index';
import { expectClose, makeLayer } from '../helpers/layers';
import { randomTensor, referenceMha, rng } from '../helpers/reference';

/** Splits x [T, E] into per-sequence tensors. */
function split(x: Tensor, lengths: readonly number[]): Tensor[] {
  const E = x.shape[1]!;
  let start = 0;
  return lengths.map((n) => {
    const t = { data: x.data.slice(start * E, (start + n) * E), shape: [n, E] };
    start += n;
    return t;
  });
}

function joined(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('packed sequences equal separate forwards', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 48, numHeads: 4, outputDim: 40 }, 11);

  it.each([
    [[1]],
    [[1, 1, 1]],
    [[3, 17, 1, 64]],
    [[600]], // one sequence beyond 512 rows: the head-major projection path
    [[5, 530, 2]],
  ])('lengths %j (self-attention, vs the float64 reference per sequence)', (lengths) => {
    const T = lengths.reduce((a, b) => a + b, 0);
    const x = randomTensor([T, 48], T, 1);
    const y = layer.forward(x, null, null, { sequenceLengths: lengths });
    expect(y.shape).toEqual([T, 40]);
    const parts = split(x, lengths);
    const expected = joined(parts.map((p) => Float32Array.from(referenceMha(weights, config, p, p, p).output)));
    expectClose(y.data, expected);
  });

  it('fuzzed lengths, causal or not, with a key mask: matches per-sequence forwards; sync = async', async () => {
    const next = rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(next() * 6);
      const lengths = Array.from({ length: n }, () => 1 + Math.floor(next() * (next() < 0.3 ? 3 : 90)));
      const T = lengths.reduce((a, b) => a + b, 0);
      const causal = next() < 0.5;
      const x = randomTensor([T, 48], 100 + trial, 1);
      // A [T] key mask (1 = attend) over the packed rows: each sequence sees its own part.
      const keep = Uint8Array.from({ length: T }, () => (next() < 0.85 ? 1 : 0));
      const packed = layer.forward(x, null, null, {
        sequenceLengths: Int32Array.from(lengths),
        causal,
        mask: { data: keep, shape: [T] },
      });
      let start = 0;
      const separate = split(x, lengths).map((p, i) => {
        const mask = { data: keep.slice(start, start + lengths[i]!), shape: [lengths[i]!] };
        start += lengths[i]!;
        return layer.forward(p, null, null, { causal, mask }).data;
      });
      expectClose(packed.data, joined(separate), 1e-5, `trial ${trial} lengths ${lengths.join(',')} causal ${causal}`);
      const later = await layer.forwardAsync(x, null, null, {
        sequenceLengths: lengths,
        causal,
        mask: { data: keep, shape: [T] },
      });
      expect(Array.from(later.data)).toEqual(Array.from(packed.data));
    }
  });
});

describe('sequenceLengths: bad input', () => {
  const layer = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
  const x = randomTensor([6, 8], 1, 1);

  it.each([
    [
      'a sum that is not T',
      { sequenceLengths: [2, 3] },
      RangeError,
      "sequenceLengths: expected lengths summing to the query's 6 rows, got a sum of 5",
    ],
    ['a zero length', { sequenceLengths: [0, 6] }, RangeError, 'sequenceLengths[0]: expected an integer in [1, 6], got 0'],
    [
      'a negative length (Int32Array)',
      { sequenceLengths: Int32Array.from([-1, 7]) },
      RangeError,
      'sequenceLengths[0]: expected an integer in [1, 6], got -1',
    ],
    [
      'a fractional length',
      { sequenceLengths: [2.5, 3.5] },
      RangeError,
      'sequenceLengths[0]: expected an integer in [1, 6], got 2.5',
    ],
    ['a string', { sequenceLengths: '6' }, TypeError, 'sequenceLengths: expected an Int32Array or an array of integers, got "6"'],
    ['no sequences', { sequenceLengths: [] }, RangeError, 'sequenceLengths: expected at least one sequence, got none'],
    [
      'with keyLengths',
      { sequenceLengths: [6], keyLengths: [6] },
      RangeError,
      'keyLengths: expected no keyLengths with sequenceLengths',
    ],
  ])('%s', (_name, options, error, message) => {
    expect(() => layer.forward(x, null, null, options as never)).toThrow(error);
    expect(() => layer.forward(x, null, null, options as never)).toThrow(message);
  });

  it('a batched query is refused', () => {
    expect(() => layer.forward(randomTensor([1, 6, 8], 2, 1), null, null, { sequenceLengths: [6] })).toThrow(
      'sequenceLengths: expected an unbatched query [T, E] holding the packed sequences, got a query of shape [1, 6, 8]',
    );
  });

  it('keys not packed like the query are refused', () => {
    expect(() => layer.forward(x, randomTensor([4, 8], 3, 1), null, { sequenceLengths: [6] })).toThrow(
      'sequenceLengths: expected keys packed like the query (6 rows), got 4 key rows',
    );
  });

  it('forwardWithWeights refuses packed sequences', () => {
    expect(() => layer.forwardWithWeights(x, null, null, { sequenceLengths: [6] })).toThrow(TypeError);
  });
});
