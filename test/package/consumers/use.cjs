// A CommonJS consumer: require the package and run attention from the prebuild.
const assert = require('node:assert');
const { MultiHeadAttention, tensor, matmul } = require('native-attention');

const c = matmul(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 0, 0, 1, 1, 1], [3, 2]));
assert.deepStrictEqual(Array.from(c.data), [4, 5, 10, 11]);
const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
const x = tensor(
  Float32Array.from({ length: 2 * 3 * 8 }, (_, i) => Math.sin(i)),
  [2, 3, 8],
);
const y = mha.forward(x);
assert.deepStrictEqual(y.shape, [2, 3, 8]);
assert.ok(y.data.every(Number.isFinite));
console.log('cjs ok', y.shape.join('x'));
