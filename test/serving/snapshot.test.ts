// Snapshot semantics: an async call computes with its inputs and the layer's weights as
// they were when it was called, whatever the caller does afterwards -- including while
// the call still waits in the queue behind others.
import { describe, expect, it } from 'vitest';
import {
  MultiHeadAttention,
  scaledDotProductAttention,
  scaledDotProductAttentionAsync,
  setNumThreads,
  getNumThreads,
} from '../../lib/index';
import { expectIdentical } from '../helpers/layers';
import { randomTensor } from '../helpers/reference';

describe('async calls see their inputs and weights as they were at call time', () => {
  it('forwardAsync: inputs overwritten and setWeights called right after queued calls', async () => {
    const threads = getNumThreads();
    setNumThreads(1); // one call at a time: the later ones certainly wait in the queue
    try {
      const layer = new MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 5 });
      const inputs = Array.from({ length: 8 }, (_, n) => randomTensor([2, 200 + n, 64], 40 + n, 1));
      const expected = inputs.map((x) => layer.forward(x).data.slice());
      const pending = inputs.map((x) => layer.forwardAsync(x));
      for (const x of inputs) x.data.fill(Number.NaN);
      const other = new MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 6 });
      layer.setWeights(other.getWeights());
      const results = await Promise.all(pending);
      for (const [n, r] of results.entries()) expectIdentical(r.data, expected[n]!, `call ${n}`);
      // And the layer did change for calls made afterwards.
      const after = await layer.forwardAsync(randomTensor([2, 200, 64], 40, 1));
      expect(Array.from(after.data)).not.toEqual(Array.from(expected[0]!));
    } finally {
      setNumThreads(threads);
    }
  });

  it('scaledDotProductAttentionAsync: q, k, v and the mask overwritten right after the call', async () => {
    const q = randomTensor([1, 4, 300, 32], 1, 1);
    const k = randomTensor([1, 4, 400, 32], 2, 1);
    const v = randomTensor([1, 4, 400, 16], 3, 1);
    const mask = { data: new Uint8Array(400).fill(1).fill(0, 350), shape: [400] };
    const expected = scaledDotProductAttention(q, k, v, { mask }).data.slice();
    const pending = Array.from({ length: 6 }, () => scaledDotProductAttentionAsync(q, k, v, { mask }));
    q.data.fill(7);
    k.data.fill(-3);
    v.data.fill(Number.NaN);
    mask.data.fill(0);
    for (const r of await Promise.all(pending)) expectIdentical(r.data, expected, 'sdpa');
  });
});
