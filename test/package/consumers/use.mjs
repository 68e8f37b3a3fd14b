// An ES module consumer: named imports from the CommonJS build, and the async API.
import assert from 'node:assert';
import { MultiHeadAttention, SelfAttention, tensor } from 'native-attention';

const sa = new SelfAttention(16, 4, { seed: 2 });
const x = tensor(
  Float32Array.from({ length: 3 * 5 * 16 }, (_, i) => Math.cos(i)),
  [3, 5, 16],
);
const y = sa.call(x, x, x);
assert.deepStrictEqual(y.shape, [3, 5, 16]);
const mha = new MultiHeadAttention({ embedDim: 16, numHeads: 4, seed: 2 });
const z = await mha.forwardAsync(x);
assert.deepStrictEqual(z.shape, [3, 5, 16]);
console.log('esm ok', y.shape.join('x'));
