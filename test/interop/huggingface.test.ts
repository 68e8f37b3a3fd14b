// Hugging Face separate-linear attention blocks (fixtures computed in PyTorch by
// test/fixtures/torch/generate.py, without transformers): BERT, BART, Whisper-style
// partial biases, LLaMA-style grouped-query attention.
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, type Tensor } from '../../lib/index';
import { fromHuggingFace, loadSafetensors, saveSafetensors, toHuggingFace } from '../../lib/interop/index';
import { expectBitwise, expectMatch, loadIo, torchFixture } from '../fixtures/fixtures';

describe('fromHuggingFace: BERT (self.query/key/value, output.dense)', () => {
  const prefix = 'bert.encoder.layer.0.attention.';
  const layer = fromHuggingFace(torchFixture('hf_bert.weights.safetensors'), { numHeads: 4, prefix });
  const io = loadIo(torchFixture('hf_bert.io.safetensors'));

  it('matches, without and with the attention_mask (1 = attend, as ours)', () => {
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.outputDim, layer.useBias]).toEqual([16, 4, 4, 16, true]);
    const x = io.f('x');
    expectMatch(layer.forward(x), io.f('out'));
    const am = io.b('attention_mask'); // [B, S]
    expectMatch(layer.forward(x, null, null, { mask: { data: am.data, shape: [2, 1, 1, 5] } }), io.f('out_masked'));
    expectMatch(layer.forward(x, null, null, { keyLengths: [5, 3] }), io.f('out_masked'));
  });

  it('a prefix ending at "self." gets a hint', () => {
    expect(() => fromHuggingFace(torchFixture('hf_bert.weights.safetensors'), { numHeads: 4, prefix: `${prefix}self.` })).toThrow(
      /a BERT-style prefix ends at "attention\."/,
    );
  });
});

describe('fromHuggingFace: BART cross-attention (q_proj, k_proj, v_proj, out_proj)', () => {
  it('matches', () => {
    const layer = fromHuggingFace(torchFixture('hf_bart.weights.safetensors'), {
      numHeads: 4,
      prefix: 'model.decoder.layers.0.encoder_attn',
    });
    const io = loadIo(torchFixture('hf_bart.io.safetensors'));
    const enc = io.f('enc');
    expectMatch(layer.forward(io.f('x'), enc, enc), io.f('out'));
  });
});

describe('fromHuggingFace: Whisper-style (k_proj without bias)', () => {
  it('a missing bias is a zero bias', () => {
    const layer = fromHuggingFace(torchFixture('hf_whisper.weights.safetensors'), {
      numHeads: 2,
      prefix: 'model.encoder.layers.0.self_attn.',
    });
    expect(layer.useBias).toBe(true);
    expect(Array.from(layer.getWeights().bk!.data)).toEqual(new Array(12).fill(0));
    const io = loadIo(torchFixture('hf_whisper.io.safetensors'));
    expectMatch(layer.forward(io.f('x')), io.f('out'));
  });
});

describe('fromHuggingFace: LLaMA-style (o_proj, no biases, grouped-query attention)', () => {
  const prefix = 'model.layers.0.self_attn.';
  it('kv heads are repeated for their query heads; causal matches (no rotary embeddings)', () => {
    const layer = fromHuggingFace(torchFixture('hf_llama.weights.safetensors'), { numHeads: 4, prefix, numKeyValueHeads: 2 });
    expect([layer.numHeads, layer.keyDim, layer.useBias]).toEqual([4, 4, false]);
    const io = loadIo(torchFixture('hf_llama.io.safetensors'));
    expectMatch(layer.forward(io.f('x'), null, null, { causal: true }), io.f('out_causal'));
  });

  it('numKeyValueHeads is checked against the shapes', () => {
    expect(() =>
      fromHuggingFace(torchFixture('hf_llama.weights.safetensors'), { numHeads: 4, prefix, numKeyValueHeads: 4 }),
    ).toThrow(/numKeyValueHeads: expected 2 \(from k_proj's shape \[8, 16\]\), got 4/);
    expect(() => fromHuggingFace(torchFixture('hf_llama.weights.safetensors'), { numHeads: 3, prefix })).toThrow(
      /numHeads: expected a divisor of q_proj's output size \(16\), got 3/,
    );
  });
});

describe('fromHuggingFace: grouped-query attention with biases (Qwen2-style)', () => {
  it('keeps its kv heads (numKvHeads) and computes what the block with them written out in full does', () => {
    const E = 8,
      H = 4,
      Hkv = 2,
      d = 2;
    const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5);
    const gqa: Record<string, Tensor> = {
      'q_proj.weight': { data: rnd(H * d * E, 1), shape: [H * d, E] },
      'q_proj.bias': { data: rnd(H * d, 2), shape: [H * d] },
      'k_proj.weight': { data: rnd(Hkv * d * E, 3), shape: [Hkv * d, E] },
      'k_proj.bias': { data: rnd(Hkv * d, 4), shape: [Hkv * d] },
      'v_proj.weight': { data: rnd(Hkv * d * E, 5), shape: [Hkv * d, E] },
      'v_proj.bias': { data: rnd(Hkv * d, 6), shape: [Hkv * d] },
      'o_proj.weight': { data: rnd(E * H * d, 7), shape: [E, H * d] },
    };
    // Full heads: kv head g serves query heads 2g and 2g + 1 (transformers' repeat_kv).
    const expand = (t: Tensor): Tensor => {
      const cols = t.shape.length === 2 ? t.shape[1]! : 1;
      const rows: Float32Array[] = [];
      for (let g = 0; g < Hkv; g++) {
        const block = t.data.subarray(g * d * cols, (g + 1) * d * cols);
        rows.push(block, block);
      }
      const data = new Float32Array(H * d * cols);
      for (const [i, r] of rows.entries()) data.set(r, i * d * cols);
      return { data, shape: t.shape.length === 2 ? [H * d, cols] : [H * d] };
    };
    const full = { ...gqa };
    for (const n of ['k_proj.weight', 'k_proj.bias', 'v_proj.weight', 'v_proj.bias']) full[n] = expand(gqa[n]!);
    const a = fromHuggingFace(gqa, { numHeads: H });
    const b = fromHuggingFace(full, { numHeads: H });
    expect([a.numKvHeads, b.numKvHeads]).toEqual([Hkv, H]);
    expect(a.weightShapes().wk).toEqual([E, Hkv * d]); // nothing expanded
    for (const n of ['wq', 'bq', 'wo'] as const) expectBitwise(a.getWeights()[n]!.data, b.getWeights()[n]!.data);
    expect(a.getWeights().bo!.data.every((v) => v === 0)).toBe(true); // o_proj has no bias
    const x = { data: rnd(3 * 5 * E, 8), shape: [3, 5, E] };
    for (const causal of [false, true]) {
      const ya = a.forward(x, null, null, { causal }).data;
      const yb = b.forward(x, null, null, { causal }).data;
      for (let i = 0; i < ya.length; i++) expect(Math.abs(ya[i]! - yb[i]!)).toBeLessThan(1e-6);
    }
    // And it exports its kv heads as they came.
    const back = toHuggingFace(a, { style: 'llama' });
    expect(back['k_proj.weight']!.shape).toEqual([Hkv * d, E]);
    expectBitwise(back['k_proj.weight']!.data, gqa['k_proj.weight']!.data);
  });
});

describe('toHuggingFace: export → import round trips', () => {
  const cases = [
    { style: 'bert', file: 'hf_bert.weights.safetensors', prefix: 'bert.encoder.layer.0.attention.', numHeads: 4 },
    { style: 'bart', file: 'hf_bart.weights.safetensors', prefix: 'model.decoder.layers.0.encoder_attn.', numHeads: 4 },
  ] as const;
  it.each(cases)('$style: the linears are reproduced bit for bit', ({ style, file, prefix, numHeads }) => {
    const original = loadSafetensors(torchFixture(file)).tensors;
    const layer = fromHuggingFace(original, { numHeads, prefix });
    const exported = toHuggingFace(layer, { style, prefix });
    expect(Object.keys(exported)).toHaveLength(8);
    for (const [name, t] of Object.entries(exported)) {
      expect(t.shape, name).toEqual(original[name]!.shape);
      expectBitwise(t.data, original[name]!.data);
    }
  });

  it('llama style, no bias, through safetensors bytes', () => {
    const layer = new MultiHeadAttention({
      embedDim: 12,
      numHeads: 3,
      keyDim: 5,
      valueDim: 2,
      kdim: 7,
      vdim: 6,
      outputDim: 9,
      useBias: false,
      seed: 4,
    });
    const bytes = saveSafetensors(toHuggingFace(layer, { style: 'llama', prefix: 'm.attn' }));
    const contents = loadSafetensors(bytes);
    expect(Object.keys(contents.tensors).sort()).toEqual([
      'm.attn.k_proj.weight',
      'm.attn.o_proj.weight',
      'm.attn.q_proj.weight',
      'm.attn.v_proj.weight',
    ]);
    const again = fromHuggingFace(contents, { numHeads: 3, prefix: 'm.attn' });
    expect([again.keyDim, again.valueDim, again.kdim, again.vdim, again.outputDim, again.useBias]).toEqual([
      5,
      2,
      7,
      6,
      9,
      false,
    ]);
    for (const n of layer.weightNames) expectBitwise(again.getWeights()[n]!.data, layer.getWeights()[n]!.data);
  });

  it('errors', () => {
    const layer = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 1 });
    expect(() => toHuggingFace(layer, {} as never)).toThrow(
      /toHuggingFace: style: expected "bert", "bart" or "llama", got undefined/,
    );
    expect(() => toHuggingFace(layer, { style: 'gpt2' as never })).toThrow(RangeError);
    expect(() => fromHuggingFace({}, { numHeads: 2, prefix: 'x' })).toThrow(
      /expected a tensor named "x.self.query.weight" \(BERT-style\) or "x.q_proj.weight", got neither/,
    );
  });
});
