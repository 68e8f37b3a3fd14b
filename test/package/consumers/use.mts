// Type-checked only (tsc --noEmit): the published types describe the API.
import { MultiHeadAttention, tensor, type Tensor, type ForwardOptions } from 'native-attention';

const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, keyDim: 3, seed: 1 });
const x: Tensor = tensor(new Float32Array(16), [2, 8]);
const options: ForwardOptions = { causal: true, mask: { data: new Uint8Array([1, 0]), shape: [2] } };
const y: Tensor = mha.forward(x, x, x, options);
const shape: number[] = y.shape;
void shape;

// Mistakes the types must catch (tsc fails if any of these stops being an error).
// @ts-expect-error: an unknown option name
mha.forward(x, null, null, { causl: true });
// @ts-expect-error: a tensor needs a Float32Array
tensor('abc', [3]);
// @ts-expect-error: embedDim is required
new MultiHeadAttention({ numHeads: 2 });
