// Keras / TF.js MultiHeadAttention: weights saved as a TF.js weights manifest + shards
// by test/fixtures/tfjs-gen/generate.mjs (TF.js 4.22's own layer, cpu backend) →
// our layer → TF.js's outputs and attention scores; export round trips; the tf.Tensor
// adapters.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, type Tensor } from '../../lib/index';
import {
  findKerasPrefixes,
  fromKeras,
  fromKerasAttentionMask,
  fromTfjs,
  loadKerasFromTfjs,
  loadSafetensors,
  loadTfjsWeights,
  saveSafetensors,
  saveTfjsWeights,
  toKeras,
  toTfjsArgs,
} from '../../lib/interop/index';
import { expectBitwise, expectMatch, loadIo, tfjsFixture } from '../fixtures/fixtures';

describe('TF.js fixture "self": 4 heads, TF.js names (attentionOutput), one shard', () => {
  const layer = loadKerasFromTfjs(tfjsFixture('self', 'model.json'));
  const io = loadIo(tfjsFixture('self', 'io.safetensors'));
  const q = io.f('query');

  it('infers the shape from the kernels', () => {
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.valueDim, layer.outputDim, layer.useBias]).toEqual([
      16,
      4,
      4,
      4,
      16,
      true,
    ]);
  });

  it('output and per-head attention scores', () => {
    const r = layer.forwardWithWeights(q);
    expectMatch(r.output, io.f('out'));
    expectMatch(r.weights, io.f('scores'));
  });

  it('attention_mask [B, T, S] (1 = attend)', () => {
    const mask = fromKerasAttentionMask(io.b('mask_mask'));
    expect(mask.shape).toEqual([2, 1, 5, 5]);
    const r = layer.forwardWithWeights(q, null, null, { mask });
    expectMatch(r.output, io.f('out_mask'));
    expectMatch(r.weights, io.f('scores_mask'));
  });

  it('use_causal_mask ↔ causal', () => {
    const r = layer.forwardWithWeights(q, null, null, { causal: true });
    expectMatch(r.output, io.f('out_causal'));
    expectMatch(r.weights, io.f('scores_causal'));
  });

  it('the float32 weights are views onto the shard (no copy)', () => {
    const w = loadTfjsWeights(tfjsFixture('self', 'model.json'));
    const views = Object.values(w).map((t) => t.data.buffer);
    expect(new Set(views).size).toBe(1);
  });
});

describe('TF.js fixture "cross": kdim, vdim, valueDim, outputShape, Keras names, 2 shards', () => {
  const file = tfjsFixture('cross', 'model.json');
  const io = loadIo(tfjsFixture('cross', 'io.safetensors'));

  it('reads weights straddling shard files', () => {
    const w = loadTfjsWeights(file);
    expect(Object.keys(w)).toHaveLength(8);
    expect(w['decoder/cross_attention/value/kernel']!.shape).toEqual([10, 3, 5]);
    expect(findKerasPrefixes(w)).toEqual(['decoder/cross_attention/']);
  });

  it('matches TF.js, without and with a mask', () => {
    const layer = loadKerasFromTfjs(file, { prefix: 'decoder/cross_attention' });
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.valueDim, layer.kdim, layer.vdim, layer.outputDim]).toEqual([
      8, 3, 3, 5, 9, 10, 7,
    ]);
    // Keras calls (query, value, key); ours is (query, key, value).
    const [q, k, v] = [io.f('query'), io.f('key'), io.f('value')];
    const r = layer.forwardWithWeights(q, k, v);
    expectMatch(r.output, io.f('out'));
    expectMatch(r.weights, io.f('scores'));
    const m = layer.forwardWithWeights(q, k, v, { mask: fromKerasAttentionMask(io.b('mask_mask')) });
    expectMatch(m.output, io.f('out_mask'));
    expectMatch(m.weights, io.f('scores_mask'));
  });
});

describe('TF.js fixture "nobias": no prefix, use_bias false, keyDim·H ≠ E', () => {
  it('matches TF.js', () => {
    const layer = loadKerasFromTfjs(tfjsFixture('nobias', 'model.json'));
    expect([layer.embedDim, layer.numHeads, layer.keyDim, layer.useBias]).toEqual([6, 2, 4, false]);
    const io = loadIo(tfjsFixture('nobias', 'io.safetensors'));
    const r = layer.forwardWithWeights(io.f('query'));
    expectMatch(r.output, io.f('out'));
    expectMatch(r.weights, io.f('scores'));
  });
});

describe('toKeras / saveTfjsWeights: export → import round trips', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'na-tfjs-'));

  it.each(['self', 'cross', 'nobias'])('%s: weights reproduced bit for bit through a new manifest and shards', (name) => {
    const original = loadTfjsWeights(tfjsFixture(name, 'model.json'));
    const [prefix] = findKerasPrefixes(original);
    const outputName = Object.keys(original).some((n) => n.includes('attentionOutput')) ? 'attentionOutput' : 'attention_output';
    const layer = fromKeras(original);
    const exported = toKeras(layer, { prefix: prefix!, outputName });
    expect(Object.keys(exported)).toEqual(Object.keys(original)); // Keras order
    for (const [n, t] of Object.entries(exported)) {
      expect(t.shape, n).toEqual(original[n]!.shape);
      expectBitwise(t.data, original[n]!.data);
    }
    const dir = path.join(tmp, name);
    const saved = saveTfjsWeights(exported, dir, { shardBytes: 512 });
    expect(saved.shardPaths.length).toBeGreaterThan(1);
    const back = loadKerasFromTfjs(saved.modelJsonPath);
    for (const n of layer.weightNames) expectBitwise(back.getWeights()[n]!.data, layer.getWeights()[n]!.data);
    // The shards are byte-identical to TF.js's own, concatenated.
    const manifest = JSON.parse(fs.readFileSync(tfjsFixture(name, 'model.json'), 'utf8')).weightsManifest[0];
    const theirs = Buffer.concat(manifest.paths.map((p: string) => fs.readFileSync(tfjsFixture(name, p))));
    const ours = Buffer.concat(saved.shardPaths.map((p) => fs.readFileSync(p)));
    expect(ours.equals(theirs)).toBe(true);
  });

  it('Keras names as safetensors, and a random layer', () => {
    const layer = new MultiHeadAttention({
      embedDim: 10,
      numHeads: 7,
      keyDim: 3,
      valueDim: 2,
      kdim: 5,
      vdim: 4,
      outputDim: 13,
      seed: 3,
    });
    const back = fromKeras(loadSafetensors(saveSafetensors(toKeras(layer))));
    expect([back.numHeads, back.keyDim, back.valueDim, back.kdim, back.vdim, back.outputDim]).toEqual([7, 3, 2, 5, 4, 13]);
    for (const n of layer.weightNames) expectBitwise(back.getWeights()[n]!.data, layer.getWeights()[n]!.data);
  });

  it('names with ":0" (TF variable names) are accepted', () => {
    const layer = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 5 });
    const named = Object.fromEntries(Object.entries(toKeras(layer, { prefix: 'mha' })).map(([n, t]) => [`${n}:0`, t]));
    const back = fromKeras(named);
    for (const n of layer.weightNames) expectBitwise(back.getWeights()[n]!.data, layer.getWeights()[n]!.data);
  });
});

describe('TF.js weights: quantization and errors', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'na-tfjsq-'));
  function write(name: string, weights: unknown[], shards: Buffer[]): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    const paths = shards.map((b, i) => {
      fs.writeFileSync(path.join(dir, `s${i}.bin`), b);
      return `s${i}.bin`;
    });
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths, weights }] }));
    return path.join(dir, 'model.json');
  }

  it('dequantizes uint8, uint16 and float16, and skips other dtypes on request', () => {
    const bytes = Buffer.alloc(3 + 1 + 4 + 4 + 4);
    bytes.set([0, 1, 255], 0); // uint8
    bytes.writeUInt32LE(7, 3 + 1); // int32 (after a bool)
    bytes.writeUInt16LE(2, 8); // uint16
    bytes.writeUInt16LE(0x3c00, 10); // float16 1
    bytes.writeUInt16LE(0xc000, 12); // float16 -2
    bytes.writeUInt16LE(0, 14); // padding to weight below
    const file = write(
      'quant',
      [
        { name: 'a', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
        { name: 'flag', shape: [1], dtype: 'bool' },
        { name: 'step', shape: [], dtype: 'int32' },
        { name: 'b', shape: [1], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 0 } },
        { name: 'c', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
      [bytes],
    );
    expect(() => loadTfjsWeights(file)).toThrow(/\("flag"\)\.dtype: expected float32 \(pass skipUnsupported: true/);
    const w = loadTfjsWeights(file, { skipUnsupported: true });
    expect(Object.keys(w)).toEqual(['a', 'b', 'c']);
    expect(Array.from(w.a!.data)).toEqual([-1, -0.5, 126.5]);
    expect(Array.from(w.b!.data)).toEqual([0.5]);
    expect(Array.from(w.c!.data)).toEqual([1, -2, 0]);
  });

  it('reports shards shorter or longer than the manifest says', () => {
    const short = write('short', [{ name: 'a', shape: [4], dtype: 'float32' }], [Buffer.alloc(12)]);
    expect(() => loadTfjsWeights(short)).toThrow(
      /\("a"\): expected 16 bytes at offset 0 of the shards, got shards of 12 bytes in all/,
    );
    const long = write('long', [{ name: 'a', shape: [2], dtype: 'float32' }], [Buffer.alloc(12)]);
    expect(() => loadTfjsWeights(long)).toThrow(/expected shards of 8 bytes \(the sum of the weights' sizes\), got 12 bytes/);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"weightsManifest": 3}');
    expect(() => loadTfjsWeights(bad)).toThrow(TypeError);
    fs.writeFileSync(bad, '{oops');
    expect(() => loadTfjsWeights(bad)).toThrow(/expected JSON, got text that is not JSON/);
  });

  it('fromKeras errors', () => {
    const layer = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 5 });
    const two = { ...toKeras(layer, { prefix: 'a' }), ...toKeras(layer, { prefix: 'b' }) };
    expect(() => fromKeras(two)).toThrow(
      /fromKeras: prefix: expected one name ending in "query\/kernel" \(or pass prefix\), got 2: "a\/", "b\/"/,
    );
    expect(fromKeras(two, { prefix: 'b' }).numHeads).toBe(2);
    const partial = toKeras(layer, { prefix: '' });
    delete partial['key/bias'];
    expect(() => fromKeras(partial)).toThrow(/expected all four biases or none \(use_bias\), got no "key\/bias"/);
    const bad = toKeras(layer, { prefix: '' });
    bad['key/kernel'] = { data: new Float32Array(4 * 3 * 2), shape: [4, 3, 2] };
    expect(() => fromKeras(bad)).toThrow(/key\/kernel: expected shape \[kdim, 2, 2\], got \[4, 3, 2\]/);
  });
});

describe('tf.Tensor adapters', () => {
  /** A stand-in for a tf.Tensor on the cpu backend: dataSync() returns its own array. */
  function fakeTensor(values: Float32Array, shape: number[], dtype = 'float32') {
    return { shape, dtype, dataSync: () => values };
  }

  it("fromTfjs shares dataSync()'s array unless copy is asked", () => {
    const values = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = fromTfjs(fakeTensor(values, [2, 3]));
    expect(t.data).toBe(values);
    expect(t.shape).toEqual([2, 3]);
    expect(fromTfjs(fakeTensor(values, [2, 3]), { copy: true }).data).not.toBe(values);
    expect(() => fromTfjs(fakeTensor(values, [2, 3], 'int32'))).toThrow(/fromTfjs: tensor.dtype: expected "float32"/);
    expect(() => fromTfjs(fakeTensor(values, [4, 2]))).toThrow(/expected 8 elements for shape \[4, 2\], got 6/);
    expect(() => fromTfjs({} as never)).toThrow(TypeError);
  });

  it('toTfjsArgs gives tf.tensor() its arguments without a copy', () => {
    const t: Tensor = { data: new Float32Array(6), shape: [1, 2, 3] };
    const [data, shape, dtype] = toTfjsArgs(t);
    expect(data).toBe(t.data);
    expect(shape).toEqual([1, 2, 3]);
    expect(shape).not.toBe(t.shape);
    expect(dtype).toBe('float32');
    expect(() => toTfjsArgs({ data: [1], shape: [1] } as never)).toThrow(TypeError);
  });

  // With real TF.js when the fixture generator's packages are installed (not in CI).
  const tfDir = path.join(__dirname, '..', 'fixtures', 'tfjs-gen', 'node_modules', '@tensorflow', 'tfjs-core');
  it.skipIf(!fs.existsSync(tfDir))('with TF.js itself (cpu backend): no copies either way', async () => {
    const req = createRequire(path.join(tfDir, '..', '..', 'x.js'));
    const tf = req('@tensorflow/tfjs-core');
    req('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const ours: Tensor = { data: Float32Array.from({ length: 24 }, (_, i) => i / 10), shape: [2, 3, 4] };
    const t = tf.tensor(...toTfjsArgs(ours));
    expect(t.shape).toEqual([2, 3, 4]);
    const back = fromTfjs(t);
    expect(back.data).toBe(ours.data);
    const layer = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 1 });
    const y = layer.forward(fromTfjs(tf.add(t, 1)));
    const ty = tf.tensor(...toTfjsArgs(y));
    expect(Array.from(ty.dataSync())).toEqual(Array.from(y.data));
    tf.dispose([t, ty]);
  });
});
