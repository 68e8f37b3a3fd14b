// Type-checked only (tsc --noEmit): the published types describe the API.
import {
  type AttentionCache,
  type CacheOptions,
  fromHuggingFace,
  type ForwardOptions,
  MultiHeadAttention,
  type MultiHeadAttentionOptions,
  type Rotary,
  type RotaryOptions,
  type Tensor,
  tensor,
} from 'native-attention';

const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, keyDim: 3, seed: 1 });
const x: Tensor = tensor(new Float32Array(16), [2, 8]);
const options: ForwardOptions = { causal: true, mask: { data: new Uint8Array([1, 0]), shape: [2] } };
const y: Tensor = mha.forward(x, x, x, options);
const shape: number[] = y.shape;
void shape;

// Decoding: grouped-query heads, rotary embeddings, a sliding window and a cache.
const rotary: RotaryOptions = {
  dim: 4,
  base: 500000,
  interleaved: false,
  scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
};
const decoderOptions: MultiHeadAttentionOptions = { embedDim: 16, numHeads: 4, numKvHeads: 2, rotary, slidingWindow: 64 };
const decoder = new MultiHeadAttention(decoderOptions);
const resolved: Rotary | null = decoder.rotary;
const window: number | null = decoder.slidingWindow;
void [resolved, window];
new MultiHeadAttention({ embedDim: 16, numHeads: 4, rotary: { scaling: { type: 'linear', factor: 2 } }, slidingWindow: null });
const cacheOptions: CacheOptions = { batch: 2, maxLength: 32 };
const cache: AttentionCache = decoder.createCache(cacheOptions);
const lengths: Int32Array = cache.lengths;
const bytes: number = cache.byteLength;
const busy: boolean = cache.busy;
void [lengths, bytes, busy, cache.batch, cache.maxLength];
const prompt = tensor(new Float32Array(2 * 3 * 16), [2, 3, 16]);
const prefilled: Tensor = decoder.forward(prompt, null, null, { cache });
void prefilled;
const step = tensor(new Float32Array(16), [1, 1, 16]);
const stepOptions: ForwardOptions = { cache, cacheRows: [1] };
const stepped: Promise<Tensor> = decoder.forwardAsync(step, null, null, stepOptions);
void stepped;
decoder.forward(tensor(new Float32Array(5 * 16), [5, 16]), null, null, {
  cache,
  sequenceLengths: new Int32Array([2, 3]),
  cacheRows: new Int32Array([0, 1]),
});
cache.truncate(2);
cache.truncate([1, 2]);
cache.truncate(new Int32Array([0, 1]));
cache.reset();
const loaded: MultiHeadAttention = fromHuggingFace(
  {},
  { numHeads: 32, numKeyValueHeads: 8, prefix: 'model.layers.0.self_attn.', rotary: { base: 500000 }, slidingWindow: 4096 },
);
void loaded;

// Mistakes the types must catch (tsc fails if any of these stops being an error).
// @ts-expect-error: an unknown option name
mha.forward(x, null, null, { causl: true });
// @ts-expect-error: a tensor needs a Float32Array
tensor('abc', [3]);
// @ts-expect-error: embedDim is required
new MultiHeadAttention({ numHeads: 2 });
// @ts-expect-error: rotary.dim is a number
new MultiHeadAttention({ embedDim: 16, numHeads: 4, rotary: { dim: '8' } });
// @ts-expect-error: an unknown scaling type
new MultiHeadAttention({ embedDim: 16, numHeads: 4, rotary: { scaling: { type: 'yarn', factor: 4 } } });
// @ts-expect-error: llama3 scaling needs all its fields
new MultiHeadAttention({ embedDim: 16, numHeads: 4, rotary: { scaling: { type: 'llama3', factor: 8 } } });
// @ts-expect-error: slidingWindow is a number of keys
new MultiHeadAttention({ embedDim: 16, numHeads: 4, slidingWindow: true });
// @ts-expect-error: cacheRows are row indices
decoder.forward(step, null, null, { cache, cacheRows: 'x' });
// @ts-expect-error: a cache comes from createCache, not a plain object
decoder.forward(step, null, null, { cache: { batch: 2, maxLength: 32 } });
// @ts-expect-error: createCache needs maxLength
decoder.createCache({ batch: 2 });
// @ts-expect-error: lengths are read-only (a copy): truncate changes them
cache.lengths = new Int32Array(2);
// @ts-expect-error: truncate takes lengths, not a string
cache.truncate('all');
