// PyTorch nn.MultiheadAttention: state dicts from test/fixtures/torch (generated with
// PyTorch 1.13 by test/fixtures/torch/generate.py) → our layer → PyTorch's outputs;
// PyTorch's mask conventions; export → import round trips.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, type Tensor } from '../../lib/index';
import {
  fromPyTorch,
  fromTorchAttnMask,
  fromTorchKeyPaddingMask,
  fromTorchMasks,
  loadSafetensors,
  saveSafetensors,
  toPyTorch,
} from '../../lib/interop/index';
import { expectBitwise, expectMatch, loadIo, torchFixture } from '../fixtures/fixtures';

const PREFIX = 'encoder.layers.0.self_attn.';

describe('fromPyTorch: self-attention in an encoder layer (in_proj_weight, prefixed names)', () => {
  const layer = fromPyTorch(torchFixture('mha_self.weights.safetensors'), { numHeads: 4, prefix: PREFIX });
  const io = loadIo(torchFixture('mha_self.io.safetensors'));
  const x = io.f('x');

  it('reads the dimensions', () => {
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.valueDim, layer.kdim, layer.vdim, layer.outputDim]).toEqual([
      16, 4, 4, 4, 16, 16, 16,
    ]);
    expect(layer.useBias).toBe(true);
  });

  it('the prefix works with or without its trailing dot, and from loadSafetensors() contents', () => {
    const contents = loadSafetensors(torchFixture('mha_self.weights.safetensors'));
    const other = fromPyTorch(contents, { numHeads: 4, prefix: PREFIX.slice(0, -1) });
    expectBitwise(other.forward(x).data, layer.forward(x).data);
    const third = fromPyTorch(contents.tensors, { numHeads: 4, prefix: PREFIX });
    expectBitwise(third.forward(x).data, layer.forward(x).data);
  });

  it('no mask: output and head-averaged weights (need_weights)', () => {
    const { output, weights } = layer.forwardWithWeights(x, null, null, { averageHeads: true });
    expectMatch(output, io.f('out'));
    expectMatch(weights, io.f('weights_avg'));
    expectMatch(layer.forwardWithWeights(x).weights, io.f('weights_heads'));
  });

  it('boolean attn_mask [L, S] (true = masked)', () => {
    const mask = fromTorchAttnMask(io.b('attn_mask'));
    expect(mask.shape).toEqual([5, 5]);
    const { output, weights } = layer.forwardWithWeights(x, null, null, { mask, averageHeads: true });
    expectMatch(output, io.f('out_attn_mask'));
    expectMatch(weights, io.f('weights_attn_mask'));
  });

  it('boolean attn_mask [B·H, L, S] → [B, H, L, S]', () => {
    const mask = fromTorchAttnMask(io.b('attn_mask3'), { numHeads: 4 });
    expect(mask.shape).toEqual([2, 4, 5, 5]);
    expectMatch(layer.forward(x, null, null, { mask }), io.f('out_attn_mask3'));
  });

  it('float attn_mask (added, with -inf)', () => {
    const mask = fromTorchAttnMask(io.f('float_mask'));
    expect(mask.data).toBeInstanceOf(Float32Array);
    expectMatch(layer.forward(x, null, null, { mask }), io.f('out_float_mask'));
  });

  it('key_padding_mask with right padding → keyLengths', () => {
    const opts = fromTorchKeyPaddingMask(io.b('kpm'));
    expect(opts.keyLengths).toEqual(new Int32Array([5, 3]));
    expectMatch(layer.forward(x, null, null, opts), io.f('out_kpm'));
    // PyTorch's fast path (need_weights=False) gives the same here.
    expectMatch(layer.forward(x, null, null, opts), io.f('out_kpm_fastpath'));
    // The mask form gives the same result.
    const asMask = fromTorchKeyPaddingMask(io.b('kpm'), { form: 'mask' });
    expect(asMask.mask!.shape).toEqual([2, 1, 1, 5]);
    expectMatch(layer.forward(x, null, null, asMask), io.f('out_kpm'));
  });

  it('key_padding_mask with padding in the middle → mask [B, 1, 1, S]', () => {
    const opts = fromTorchKeyPaddingMask(io.b('kpm_mid'));
    expect(opts.keyLengths).toBeUndefined();
    expect(Array.from(opts.mask!.data)).toEqual([1, 0, 1, 1, 0, 0, 1, 1, 1, 1]);
    expectMatch(layer.forward(x, null, null, opts), io.f('out_kpm_mid'));
    expect(() => fromTorchKeyPaddingMask(io.b('kpm_mid'), { form: 'keyLengths' })).toThrow(RangeError);
  });

  it('attn_mask and key_padding_mask together (fromTorchMasks)', () => {
    const both = fromTorchMasks({ attnMask: io.b('attn_mask'), keyPaddingMask: io.b('kpm_mid') });
    expect(both.keyLengths).toBeUndefined();
    expect(both.mask!.shape).toEqual([2, 1, 5, 5]);
    expectMatch(layer.forward(x, null, null, both), io.f('out_both'));

    const both3 = fromTorchMasks({ attnMask: io.b('attn_mask3'), keyPaddingMask: io.b('kpm'), numHeads: 4 });
    expect(both3.keyLengths).toEqual(new Int32Array([5, 3])); // right padding stays keyLengths
    expectMatch(layer.forward(x, null, null, both3), io.f('out_both3'));

    const mixed = fromTorchMasks({ attnMask: io.f('float_mask'), keyPaddingMask: io.b('kpm_mid') });
    expect(mixed.mask!.data).toBeInstanceOf(Float32Array);
    expectMatch(layer.forward(x, null, null, mixed), io.f('out_float_kpm'));

    // 3-D attn_mask with padding in the middle: one [B, H, L, S] mask, the AND of both.
    const m4 = fromTorchMasks({ attnMask: io.b('attn_mask3'), keyPaddingMask: io.b('kpm_mid'), numHeads: 4 });
    expect(m4.mask!.shape).toEqual([2, 4, 5, 5]);
    const a3 = io.b('attn_mask3').data;
    const kp = io.b('kpm_mid').data;
    const expected = new Uint8Array(2 * 4 * 5 * 5).map((_, i) => (a3[i] || kp[Math.floor(i / 100) * 5 + (i % 5)] ? 0 : 1));
    expect(Array.from(m4.mask!.data)).toEqual(Array.from(expected));

    expect(fromTorchMasks({})).toEqual({});
    expect(fromTorchMasks({ attnMask: io.b('attn_mask') }).mask!.shape).toEqual([5, 5]);
  });

  it('a batch row with every key padded: PyTorch 1.13 gives NaN, we give the output bias', () => {
    const torchOut = io.f('out_kpm_full');
    const E = 16;
    const L = 5;
    // Batch row 0 is fine in both.
    for (let i = 0; i < L * E; i++) expect(Number.isNaN(torchOut.data[i]!)).toBe(false);
    // Batch row 1: all NaN in PyTorch.
    for (let i = L * E; i < 2 * L * E; i++) expect(Number.isNaN(torchOut.data[i]!)).toBe(true);
    const opts = fromTorchKeyPaddingMask(io.b('kpm_full'));
    expect(opts.keyLengths).toEqual(new Int32Array([5, 0]));
    const ours = layer.forward(x, null, null, opts);
    expectMatch({ data: ours.data.subarray(0, L * E), shape: [L, E] }, { data: torchOut.data.subarray(0, L * E), shape: [L, E] });
    const bo = layer.getWeights().bo!.data;
    for (let i = 0; i < L; i++) expectBitwise(ours.data.subarray((L + i) * E, (L + i + 1) * E), bo);
  });
});

describe('fromPyTorch: kdim / vdim ≠ embed_dim (q/k/v_proj_weight)', () => {
  const layer = fromPyTorch(torchFixture('mha_kv.weights.safetensors'), { numHeads: 3 });
  const io = loadIo(torchFixture('mha_kv.io.safetensors'));
  const [q, k, v] = [io.f('q'), io.f('k'), io.f('v')];

  it('reads the dimensions', () => {
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.kdim, layer.vdim, layer.outputDim]).toEqual([12, 3, 4, 7, 5, 12]);
  });

  it('matches PyTorch without and with masks', () => {
    const { output, weights } = layer.forwardWithWeights(q, k, v, { averageHeads: true });
    expectMatch(output, io.f('out'));
    expectMatch(weights, io.f('weights_avg'));
    expectMatch(layer.forwardWithWeights(q, k, v).weights, io.f('weights_heads'));
    expectMatch(layer.forward(q, k, v, { mask: fromTorchAttnMask(io.b('attn_mask')) }), io.f('out_attn_mask'));
    const kpm = fromTorchKeyPaddingMask(io.b('kpm'));
    const r = layer.forwardWithWeights(q, k, v, { ...kpm, averageHeads: true });
    expectMatch(r.output, io.f('out_kpm'));
    expectMatch(r.weights, io.f('weights_kpm'));
    expectMatch(
      layer.forward(q, k, v, fromTorchMasks({ attnMask: io.b('attn_mask'), keyPaddingMask: io.b('kpm') })),
      io.f('out_both'),
    );
  });
});

describe('fromPyTorch: bias=False, cross-attention', () => {
  const layer = fromPyTorch(torchFixture('mha_nobias.weights.safetensors'), { numHeads: 2 });
  const io = loadIo(torchFixture('mha_nobias.io.safetensors'));

  it('matches PyTorch', () => {
    expect(layer.useBias).toBe(false);
    const q = io.f('q');
    const kv = io.f('kv');
    const r = layer.forwardWithWeights(q, kv, kv, { averageHeads: true });
    expectMatch(r.output, io.f('out'));
    expectMatch(r.weights, io.f('weights_avg'));
    const m = layer.forwardWithWeights(q, kv, kv, {
      mask: fromTorchAttnMask(io.b('attn_mask3'), { numHeads: 2 }),
      averageHeads: true,
    });
    expectMatch(m.output, io.f('out_attn_mask3'));
    expectMatch(m.weights, io.f('weights_attn_mask3'));
  });
});

describe('fromPyTorch: half-precision checkpoints (F16, BF16 converted on load)', () => {
  const x = loadIo(torchFixture('mha_self.io.safetensors')).f('x');
  for (const tag of ['f16', 'bf16']) {
    it(`${tag}: matches PyTorch run with the same (upcast) weights`, () => {
      const file = torchFixture(`mha_self.${tag}.weights.safetensors`);
      const contents = loadSafetensors(file);
      expect(contents.dtypes[`${PREFIX}in_proj_weight`]).toBe(tag.toUpperCase());
      const layer = fromPyTorch(contents, { numHeads: 4, prefix: PREFIX });
      expectMatch(layer.forward(x), loadIo(torchFixture(`mha_self.${tag}.io.safetensors`)).f('out'));
    });
  }
});

describe('toPyTorch: export → import round trips', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'na-torch-'));

  const cases = [
    { name: 'packed (in_proj_weight)', file: 'mha_self.weights.safetensors', numHeads: 4, prefix: PREFIX, packed: true },
    { name: 'separate q/k/v_proj_weight', file: 'mha_kv.weights.safetensors', numHeads: 3, prefix: '', packed: false },
    { name: 'no bias', file: 'mha_nobias.weights.safetensors', numHeads: 2, prefix: '', packed: true },
  ];
  it.each(cases)(
    '$name: the state dict is reproduced bit for bit, and re-imports identically',
    ({ file, numHeads, prefix, packed }) => {
      const original = loadSafetensors(torchFixture(file)).tensors;
      const layer = fromPyTorch(original, { numHeads, prefix });
      const exported = toPyTorch(layer, { prefix });
      expect(Object.keys(exported).includes(`${prefix}in_proj_weight`)).toBe(packed);
      for (const [name, t] of Object.entries(exported)) {
        expect(t.shape, name).toEqual(original[name]!.shape);
        expectBitwise(t.data, original[name]!.data);
      }
      // Through a file.
      const out = path.join(tmp, 'export.safetensors');
      saveSafetensors(exported, out, { format: 'pt' });
      const again = fromPyTorch(out, { numHeads, prefix });
      const w0 = layer.getWeights();
      const w1 = again.getWeights();
      for (const n of layer.weightNames) expectBitwise(w1[n]!.data, w0[n]!.data);
    },
  );

  it('a random layer survives toPyTorch → fromPyTorch bitwise', () => {
    const layer = new MultiHeadAttention({ embedDim: 8, numHeads: 2, kdim: 3, vdim: 5, seed: 9 });
    const w = layer.getWeights();
    w.bq = { data: Float32Array.from({ length: 8 }, (_, i) => i / 7 - 0.5), shape: [8] };
    layer.setWeights(w);
    const again = fromPyTorch(toPyTorch(layer), { numHeads: 2 });
    const w1 = again.getWeights();
    for (const n of layer.weightNames) expectBitwise(w1[n]!.data, layer.getWeights()[n]!.data);
  });

  it('refuses layers nn.MultiheadAttention cannot express', () => {
    expect(() => toPyTorch(new MultiHeadAttention({ embedDim: 8, numHeads: 2, keyDim: 3, seed: 1 }))).toThrow(
      /toPyTorch: layer: expected keyDim = valueDim = embedDim \/ numHeads/,
    );
    expect(() => toPyTorch(new MultiHeadAttention({ embedDim: 8, numHeads: 2, outputDim: 4, seed: 1 }))).toThrow(RangeError);
    expect(() => toPyTorch({} as MultiHeadAttention)).toThrow(TypeError);
  });
});

describe('fromPyTorch: errors', () => {
  const sd = loadSafetensors(torchFixture('mha_self.weights.safetensors')).tensors;

  it('numHeads is required', () => {
    expect(() => fromPyTorch(sd, { prefix: PREFIX } as never)).toThrow(
      /fromPyTorch: numHeads: expected a positive integer \(it cannot be inferred/,
    );
    expect(() => fromPyTorch(sd, { numHeads: 3, prefix: PREFIX })).toThrow(
      /numHeads: expected a divisor of embed_dim \(16\), got 3/,
    );
  });

  it('a wrong prefix names similar tensors', () => {
    expect(() => fromPyTorch(sd, { numHeads: 4 })).toThrow(
      /expected a tensor named "out_proj.weight", got none; similar names: encoder.layers.0.self_attn.out_proj.weight/,
    );
  });

  it('wrong shapes and kinds', () => {
    const bad: Record<string, Tensor> = {
      ...sd,
      [`${PREFIX}in_proj_weight`]: { data: new Float32Array(16 * 16), shape: [16, 16] },
    };
    expect(() => fromPyTorch(bad, { numHeads: 4, prefix: PREFIX })).toThrow(
      /in_proj_weight: expected shape \[48, 16\], got \[16, 16\]/,
    );
    expect(() => fromPyTorch(42 as never, { numHeads: 4 })).toThrow(TypeError);
    expect(() =>
      fromPyTorch(
        { ...sd, [`${PREFIX}bias_k`]: { data: new Float32Array(16), shape: [1, 1, 16] } },
        { numHeads: 4, prefix: PREFIX },
      ),
    ).toThrow(/add_bias_kv/);
  });

  it('mask helpers check their input', () => {
    expect(() => fromTorchAttnMask({ data: new Uint8Array(8), shape: [2, 2, 2] })).toThrow(
      /numHeads: expected a positive integer for a 3-D attn_mask/,
    );
    expect(() => fromTorchAttnMask({ data: new Uint8Array(12), shape: [3, 2, 2] }, { numHeads: 2 })).toThrow(
      /a first axis that is a multiple of numHeads \(2\)/,
    );
    expect(() => fromTorchAttnMask({ data: new Int32Array(4), shape: [2, 2] } as never)).toThrow(TypeError);
    expect(() => fromTorchKeyPaddingMask({ data: new Uint8Array(4), shape: [4] })).toThrow(/expected a tensor of rank 2/);
    expect(() => fromTorchKeyPaddingMask({ data: new Uint8Array(3), shape: [2, 2] })).toThrow(/expected 4 elements/);
  });

  it('float key_padding_mask stays additive', () => {
    const kpm = { data: new Float32Array([0, -Infinity, 0, 0.5]), shape: [2, 2] };
    const r = fromTorchKeyPaddingMask(kpm);
    expect(r.mask!.shape).toEqual([2, 1, 1, 2]);
    expect(r.mask!.data).toBe(kpm.data);
  });
});
