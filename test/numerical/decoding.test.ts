// Decoding against PyTorch float64 references (test/fixtures/torch/generate.py, the dec_*
// cases): LLaMA-style grouped-query attention with rotate-half rotary (plain, linear and
// llama3 scaling), GPT-J-style interleaved partial rotary, a Mistral-style sliding window,
// multi-query attention with biases. Each reference is the full causal forward of a whole
// sequence; the cache must reproduce it row for row, however the tokens arrive.
import { describe, expect, it } from 'vitest';
import type { RotaryScaling, Tensor } from '../../lib/index';
import { fromHuggingFace } from '../../lib/interop/index';
import { expectBitwise, expectMatch, loadIo, torchFixture } from '../fixtures/fixtures';

interface Case {
  name: string;
  output: string;
}

/** The HF rope_scaling JSON of a fixture as our RotaryScaling. */
function scalingOf(json: string | undefined): RotaryScaling | null {
  if (!json || json === 'none') return null;
  const s = JSON.parse(json) as Record<string, number | string>;
  if (s.rope_type === 'linear') return { type: 'linear', factor: s.factor as number };
  return {
    type: 'llama3',
    factor: s.factor as number,
    lowFreqFactor: s.low_freq_factor as number,
    highFreqFactor: s.high_freq_factor as number,
    originalMaxPositions: s.original_max_position_embeddings as number,
  };
}

/** The layer of a fixture case, configured for one of its outputs, with x and that output. */
function load({ name, output }: Case) {
  const io = loadIo(torchFixture(`${name}.io.safetensors`));
  const m = io.metadata as Record<string, string>;
  const key = (k: string) => m[`${k}.${output}`] ?? m[k];
  const window = key('sliding_window');
  const layer = fromHuggingFace(torchFixture(`${name}.weights.safetensors`), {
    numHeads: Number(m.num_heads),
    numKeyValueHeads: Number(m.num_kv_heads),
    prefix: m.prefix,
    rotary: {
      dim: Number(m.rotary_dim),
      base: Number(m.rope_theta),
      interleaved: m.interleaved === 'true',
      scaling: scalingOf(key('scaling')),
    },
    slidingWindow: window === 'none' ? null : Number(window),
  });
  const x = io.f('x');
  const [B, L, E] = x.shape as [number, number, number];
  return { layer, x, expected: io.f(output), B, L, E };
}

/** Rows [t0, t1) of batch row b of a [B, L, F] tensor, as [t1 - t0, F] data. */
function rows(t: Tensor, b: number, t0: number, t1: number): Float32Array {
  const [, L, F] = t.shape as [number, number, number];
  return t.data.slice((b * L + t0) * F, (b * L + t1) * F);
}

/** Batch rows `bs`, tokens [t0, t1) of each: [bs.length, t1 - t0, F]. */
function gather(t: Tensor, bs: number[], t0: number, t1: number): Tensor {
  const F = t.shape[2]!;
  const data = new Float32Array(bs.length * (t1 - t0) * F);
  bs.forEach((b, i) => {
    data.set(rows(t, b, t0, t1), i * (t1 - t0) * F);
  });
  return { data, shape: [bs.length, t1 - t0, F] };
}

const CASES: Case[] = [
  { name: 'dec_llama', output: 'out' },
  { name: 'dec_llama', output: 'out_linear' },
  { name: 'dec_llama', output: 'out_llama3' },
  { name: 'dec_gptj', output: 'out' },
  { name: 'dec_mistral', output: 'out' },
  { name: 'dec_mistral', output: 'out_nowindow' },
  { name: 'dec_mqa', output: 'out' },
];

describe.each(CASES)('$name ($output)', (c) => {
  const { layer, x, expected, B, L } = load(c);

  it('the whole sequence, causal, without a cache', () => {
    expectMatch(layer.forward(x, null, null, { causal: true }), expected);
  });

  it('prefill, then one token at a time: each step equals its row of the full forward', () => {
    const prompt = Math.min(7, L - 2);
    const cache = layer.createCache({ batch: B, maxLength: L });
    const all = Array.from({ length: B }, (_, b) => b);
    expectMatch(layer.forward(gather(x, all, 0, prompt), null, null, { cache }), gather(expected, all, 0, prompt));
    for (let t = prompt; t < L; t++) {
      expectMatch(layer.forward(gather(x, all, t, t + 1), null, null, { cache }), gather(expected, all, t, t + 1));
    }
    expect(Array.from(cache.lengths)).toEqual(new Array(B).fill(L));
  });

  it('ragged rows: different prompt lengths, stepped together and as subsets (cacheRows)', () => {
    // Row b is prefilled with 3 + 4b tokens (one call per row, through cacheRows), then
    // every row advances one token per call, rows that are ahead waiting their turn.
    const cache = layer.createCache({ batch: B + 1, maxLength: L }); // one spare row, never used
    const rowOf = (b: number) => B - b; // call row b → cache row B - b: not the identity
    const prompt = (b: number) => Math.min(3 + 4 * b, L - 1);
    for (let b = 0; b < B; b++) {
      const y = layer.forward(gather(x, [b], 0, prompt(b)), null, null, { cache, cacheRows: [rowOf(b)] });
      expectMatch(y, gather(expected, [b], 0, prompt(b)));
    }
    const pos = Array.from({ length: B }, (_, b) => prompt(b));
    for (let call = 0; pos.some((p) => p < L); call++) {
      // Odd calls step only the rows that are furthest behind (a subset); even calls every
      // unfinished row (ragged: each at its own position).
      const shortest = Math.min(...pos);
      const group = pos.map((_, b) => b).filter((b) => pos[b]! < L && (call % 2 === 0 || pos[b] === shortest));
      const step: Tensor = { data: new Float32Array(group.length * x.shape[2]!), shape: [group.length, 1, x.shape[2]!] };
      group.forEach((b, i) => {
        step.data.set(rows(x, b, pos[b]!, pos[b]! + 1), i * x.shape[2]!);
      });
      const y = layer.forward(step, null, null, { cache, cacheRows: group.map(rowOf) });
      group.forEach((b, i) => {
        const got = { data: y.data.slice(i * x.shape[2]!, (i + 1) * x.shape[2]!), shape: [1, 1, x.shape[2]!] };
        expectMatch(got, gather(expected, [b], pos[b]!, pos[b]! + 1));
        pos[b]!++;
      });
    }
    const lengths = cache.lengths;
    expect(lengths[0]).toBe(0);
    for (let b = 0; b < B; b++) expect(lengths[rowOf(b)]).toBe(L);
  });

  it('packed prompts of different lengths in one call (sequenceLengths + cacheRows), then steps', () => {
    const E = x.shape[2]!;
    const cut = Array.from({ length: B }, (_, b) => Math.max(1, L - 5 - 3 * b));
    const packed = new Float32Array(cut.reduce((a, n) => a + n, 0) * E);
    let at = 0;
    for (let b = 0; b < B; b++) {
      packed.set(rows(x, b, 0, cut[b]!), at * E);
      at += cut[b]!;
    }
    const cache = layer.createCache({ batch: B, maxLength: L });
    const reversed = Array.from({ length: B }, (_, b) => B - 1 - b);
    const y = layer.forward({ data: packed, shape: [at, E] }, null, null, {
      cache,
      sequenceLengths: cut,
      cacheRows: reversed,
    });
    at = 0;
    for (let b = 0; b < B; b++) {
      expectMatch(
        { data: y.data.slice(at * E, (at + cut[b]!) * E), shape: [cut[b]!, E] },
        {
          data: rows(expected, b, 0, cut[b]!),
          shape: [cut[b]!, E],
        },
      );
      at += cut[b]!;
    }
    // The rest of each row, as one packed call of the remaining tokens.
    const rest = cut.map((n) => L - n);
    const tail = new Float32Array(rest.reduce((a, n) => a + n, 0) * E);
    at = 0;
    for (let b = 0; b < B; b++) {
      tail.set(rows(x, b, cut[b]!, L), at * E);
      at += rest[b]!;
    }
    const z = layer.forward({ data: tail, shape: [at, E] }, null, null, { cache, sequenceLengths: rest, cacheRows: reversed });
    at = 0;
    for (let b = 0; b < B; b++) {
      expectMatch(
        { data: z.data.slice(at * E, (at + rest[b]!) * E), shape: [rest[b]!, E] },
        {
          data: rows(expected, b, cut[b]!, L),
          shape: [rest[b]!, E],
        },
      );
      at += rest[b]!;
    }
  });

  it('truncate, then decoding again gives the same bits; forwardAsync too', async () => {
    const all = Array.from({ length: B }, (_, b) => b);
    const cache = layer.createCache({ batch: B, maxLength: L });
    const prompt = L - 4;
    layer.forward(gather(x, all, 0, prompt), null, null, { cache });
    const first = [];
    for (let t = prompt; t < L; t++) first.push(layer.forward(gather(x, all, t, t + 1), null, null, { cache }).data);
    cache.truncate(prompt);
    expect(Array.from(cache.lengths)).toEqual(new Array(B).fill(prompt));
    for (let t = prompt; t < L; t++) {
      const y = await layer.forwardAsync(gather(x, all, t, t + 1), null, null, { cache });
      expectBitwise(y.data, first[t - prompt]!);
    }
    // A speculative draft of 3 tokens, 2 rejected: truncate by row, redo the last one.
    cache.truncate(Array.from(cache.lengths, (n) => n - 2));
    const again = layer.forward(gather(x, all, L - 2, L - 1), null, null, { cache });
    expectBitwise(again.data, first[first.length - 2]!);
    cache.reset();
    expect(Array.from(cache.lengths)).toEqual(new Array(B).fill(0));
  });
});

describe('the fixtures test what they claim', () => {
  it('the sliding window and the scalings change the output (so matching them means something)', () => {
    const far = (a: Tensor, b: Tensor) => {
      let d = 0;
      for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
      return d;
    };
    const mistral = load({ name: 'dec_mistral', output: 'out' });
    expect(far(mistral.expected, load({ name: 'dec_mistral', output: 'out_nowindow' }).expected)).toBeGreaterThan(1e-3);
    const llama = load({ name: 'dec_llama', output: 'out' });
    for (const o of ['out_linear', 'out_llama3'])
      expect(far(llama.expected, load({ name: 'dec_llama', output: o }).expected)).toBeGreaterThan(1e-3);
    // And without its rotary embedding, the LLaMA block does not match.
    const plain = fromHuggingFace(torchFixture('dec_llama.weights.safetensors'), {
      numHeads: 8,
      prefix: 'model.layers.0.self_attn.',
    });
    expect(far(plain.forward(llama.x, null, null, { causal: true }), llama.expected)).toBeGreaterThan(1e-3);
  });
});
