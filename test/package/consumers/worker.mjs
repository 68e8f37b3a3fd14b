// The addon loads in worker threads too (context-aware) while the main thread uses it.
import assert from 'node:assert';
import { Worker } from 'node:worker_threads';
import { MultiHeadAttention, tensor } from 'native-attention';

const code = `
  const { parentPort } = require('node:worker_threads');
  const { MultiHeadAttention, tensor } = require('native-attention');
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 7 });
  const x = tensor(Float32Array.from({ length: 4 * 8 }, (_, i) => i / 10), [4, 8]);
  parentPort.postMessage(Array.from(mha.forward(x).data));
`;
const results = await Promise.all(
  [0, 1].map(
    () =>
      new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  ),
);
const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 7 });
const here = Array.from(
  mha.forward(
    tensor(
      Float32Array.from({ length: 4 * 8 }, (_, i) => i / 10),
      [4, 8],
    ),
  ).data,
);
assert.deepStrictEqual(results[0], here);
assert.deepStrictEqual(results[1], here);
console.log('worker ok');
