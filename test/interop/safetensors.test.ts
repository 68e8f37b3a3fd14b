// safetensors: round trips, zero-copy views, alignment, dtypes, and malformed files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, readSafetensorsHeader, saveSafetensors, MAX_HEADER_BYTES } from '../../lib/interop/index';
import { expectBitwise, torchFixture } from '../fixtures/fixtures';

/** A file from a header object (JSON-encoded, or raw text) and data bytes. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Buffer {
  let json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad) json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('saveSafetensors / loadSafetensors', () => {
  it('round trip: tensors, byte tensors, metadata, bit for bit (incl. NaN, -0, subnormals)', () => {
    const special = new Float32Array([0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-45, -3.4028234663852886e38, 0.1]);
    const tensors = {
      'a.weight': { data: special, shape: [2, 5] },
      b: { data: new Float32Array([1, 2, 3]), shape: [3] },
      scalar: { data: new Float32Array([7]), shape: [] },
      empty: { data: new Float32Array(0), shape: [0, 4] },
      mask: { data: new Uint8Array([1, 0, 1]), shape: [3], dtype: 'BOOL' as const },
      bytes: { data: new Uint8Array([0, 127, 255]), shape: [1, 3] },
    };
    const buf = saveSafetensors(tensors, null, { format: 'pt', note: 'ünïcode' });
    const r = loadSafetensors(buf);
    expect(r.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(Object.keys(r.tensors).sort()).toEqual(['a.weight', 'b', 'empty', 'scalar']);
    expectBitwise(r.tensors['a.weight']!.data, special);
    expect(r.tensors['a.weight']!.shape).toEqual([2, 5]);
    expect(r.tensors.scalar).toEqual({ data: new Float32Array([7]), shape: [] });
    expect(r.tensors.empty!.shape).toEqual([0, 4]);
    expect(r.byteTensors.mask).toEqual({ data: new Uint8Array([1, 0, 1]), shape: [3] });
    expect(r.byteTensors.bytes).toEqual({ data: new Uint8Array([0, 127, 255]), shape: [1, 3] });
    expect(r.dtypes).toEqual({ 'a.weight': 'F32', b: 'F32', scalar: 'F32', empty: 'F32', mask: 'BOOL', bytes: 'U8' });
  });

  it('the reference layout: header padded to 8 bytes, larger dtypes first, then by name', () => {
    // saveSafetensors returns a Node Buffer (typed as Uint8Array for the published types).
    const buf = Buffer.from(
      saveSafetensors({
        z: { data: new Float32Array(1), shape: [1] },
        m: { data: new Uint8Array(3), shape: [3] },
        a: { data: new Float32Array(2), shape: [2], dtype: 'F16' },
        b: { data: new Float32Array(1), shape: [1] },
      }),
    );
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(Object.keys(header)).toEqual(['b', 'z', 'a', 'm']);
    expect(header.b.data_offsets).toEqual([0, 4]);
    expect(header.a).toEqual({ dtype: 'F16', shape: [2], data_offsets: [8, 12] });
    expect(header.m.data_offsets).toEqual([12, 15]);
    expect(buf.length).toBe(8 + n + 15);
  });

  it('writes the file when given a path, and reads from a path', () => {
    const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'na-st-')), 'x.safetensors');
    const buf = saveSafetensors({ w: { data: new Float32Array([1, 2]), shape: [2] } }, p);
    expect(fs.readFileSync(p).equals(buf)).toBe(true);
    expect(Array.from(loadSafetensors(p).tensors.w!.data)).toEqual([1, 2]);
  });

  it('F32 tensors are views onto the bytes when aligned, copies when not or when asked', () => {
    const saved = saveSafetensors({ w: { data: new Float32Array([1, 2, 3]), shape: [3] } });
    const buf = Buffer.from(saved.buffer, saved.byteOffset, saved.byteLength); // the same bytes, as a Buffer
    const view = loadSafetensors(buf).tensors.w!.data;
    expect(view.buffer).toBe(buf.buffer);
    buf.writeFloatLE(42, buf.length - 12);
    expect(view[0]).toBe(42); // shares the bytes
    expect(loadSafetensors(buf, { copy: true }).tensors.w!.data.buffer).not.toBe(buf.buffer);

    // The same file at an odd address: still loads, as a copy.
    const shifted = new Uint8Array(buf.length + 1);
    shifted.set(buf, 1);
    const odd = loadSafetensors(shifted.subarray(1)).tensors.w!;
    expect(odd.data.buffer).not.toBe(shifted.buffer);
    expect(Array.from(odd.data)).toEqual([42, 2, 3]);

    // A header whose length is not a multiple of 4 (other writers may not pad).
    const unpadded = file({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(5, 6), false);
    expect(Array.from(loadSafetensors(unpadded).tensors.w!.data)).toEqual([5, 6]);
    // An ArrayBuffer works too.
    const ab = new Uint8Array(buf).buffer; // a copy, as a plain ArrayBuffer
    expect(Array.from(loadSafetensors(ab).tensors.w!.data)).toEqual([42, 2, 3]);
  });

  it('reads the files written by the PyTorch generator (reference layout, mixed dtypes)', () => {
    const r = loadSafetensors(torchFixture('mha_self.weights.safetensors'));
    expect(r.metadata.torch).toMatch(/^1\.13/);
    expect(r.tensors['encoder.layers.0.self_attn.in_proj_weight']!.shape).toEqual([48, 16]);
    expect(Object.keys(r.tensors)).toContain('encoder.layers.0.linear1.weight');
  });

  it('filter and skipUnsupported', () => {
    const data = new Uint8Array(8 + 4);
    const buf = file(
      { step: { dtype: 'I64', shape: [1], data_offsets: [0, 8] }, w: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      data,
    );
    expect(() => loadSafetensors(buf)).toThrow(
      /tensor "step": dtype: expected F32, F16, BF16, F64, BOOL or U8 \(pass skipUnsupported: true or a filter to leave it out\), got "I64"/,
    );
    expect(loadSafetensors(buf, { skipUnsupported: true }).skipped).toEqual(['step']);
    expect(Object.keys(loadSafetensors(buf, { filter: (n) => n !== 'step' }).tensors)).toEqual(['w']);
    expect(Object.keys(loadSafetensors(buf, { filter: (_n, e) => e.dtype === 'F32' }).tensors)).toEqual(['w']);
  });

  it('readSafetensorsHeader', () => {
    const h = readSafetensorsHeader(saveSafetensors({ w: { data: new Float32Array(2), shape: [1, 2] } }, null, { a: 'b' }));
    expect(h.entries.w).toEqual({ dtype: 'F32', shape: [1, 2], dataOffsets: [0, 8] });
    expect(h.metadata).toEqual({ a: 'b' });
    expect(h.dataStart % 8).toBe(0);
  });
});

describe('saveSafetensors: errors', () => {
  it('names the problem', () => {
    expect(() => saveSafetensors(null as never)).toThrow(
      /saveSafetensors: tensors: expected an object of tensors keyed by name, got null/,
    );
    expect(() => saveSafetensors({ w: { data: new Float32Array(3), shape: [2] } })).toThrow(
      /saveSafetensors: "w".data: expected 2 elements for shape \[2\], got 3/,
    );
    expect(() => saveSafetensors({ w: { data: [1, 2], shape: [2] } as never })).toThrow(
      /"w".data: expected a Float32Array or a Uint8Array, got an Array\(2\)/,
    );
    expect(() => saveSafetensors({ w: { data: new Float32Array(2), shape: [2], dtype: 'I32' } as never })).toThrow(
      /"w".dtype: expected "F32", "F16" or "BF16" for float32 data/,
    );
    expect(() => saveSafetensors({ w: { data: new Float32Array(2), shape: [-2] } })).toThrow(
      /"w".shape\[0\]: expected a non-negative integer, got -2/,
    );
    expect(() => saveSafetensors({ __metadata__: { data: new Float32Array(1), shape: [1] } })).toThrow(RangeError);
    expect(() => saveSafetensors({}, null, { a: 1 } as never)).toThrow(/metadata.a: expected a string, got 1/);
    expect(() => saveSafetensors({}, 3 as never)).toThrow(TypeError);
    expect(() => saveSafetensors({}, null, null, { dtype: 'F8' as never })).toThrow(RangeError);
  });
});

describe('loadSafetensors: malformed files', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('bad length prefix', () => {
    expect(() => loadSafetensors(new Uint8Array(5))).toThrow(
      /loadSafetensors: file: expected at least 8 bytes \(the header length\), got 5 bytes/,
    );
    const zero = Buffer.alloc(16);
    expect(() => loadSafetensors(zero)).toThrow(/header length: expected a length prefix between 2 and 100000000 bytes/);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n);
    expect(() => loadSafetensors(huge)).toThrow(RangeError);
    expect(MAX_HEADER_BYTES).toBe(100_000_000);
  });

  it('header length beyond the file', () => {
    const buf = file(ok, f32(1, 2));
    buf.writeBigUInt64LE(BigInt(buf.length));
    expect(() => loadSafetensors(buf)).toThrow(
      new RegExp(
        `header length: expected at most ${buf.length - 8} bytes \\(what follows the length prefix\\), got ${buf.length}`,
      ),
    );
  });

  it('not JSON, not an object, not UTF-8', () => {
    expect(() => loadSafetensors(file('{"w": {"dtype": '))).toThrow(/header: expected a JSON object, got text that is not JSON/);
    expect(() => loadSafetensors(file('[1, 2]'))).toThrow(/header: expected a JSON object, got an Array\(2\)/);
    expect(() => loadSafetensors(file('"x"'))).toThrow(TypeError);
    const bad = file('{}');
    bad[8] = 0xff;
    expect(() => loadSafetensors(bad)).toThrow(/header: expected UTF-8 JSON/);
  });

  it('missing or wrong dtype, shape, data_offsets', () => {
    const L =
      (h: unknown, d = f32(1, 2)) =>
      () =>
        loadSafetensors(file(h, d));
    expect(L({ w: { shape: [2], data_offsets: [0, 8] } })).toThrow(/tensor "w": dtype: expected a dtype string, got undefined/);
    expect(L({ w: { dtype: 'F32', data_offsets: [0, 8] } })).toThrow(
      /tensor "w": shape: expected an array of non-negative integers, got undefined/,
    );
    expect(L({ w: { dtype: 'F32', shape: [2] } })).toThrow(
      /tensor "w": data_offsets: expected an array \[begin, end\], got undefined/,
    );
    expect(L({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } })).toThrow(
      /data_offsets: expected \[begin, end\] of two non-negative integers, got \[0\]/,
    );
    expect(L({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } })).toThrow(
      /shape\[0\]: expected a non-negative integer, got 2.5/,
    );
    expect(L({ w: { dtype: 'F33', shape: [2], data_offsets: [0, 8] } })).toThrow(
      /tensor "w": dtype: expected a safetensors dtype \(BOOL, U8, .*\), got "F33"/,
    );
    expect(L({ w: 5 })).toThrow(/tensor "w": expected an object \{ dtype, shape, data_offsets \}, got 5/);
    expect(L({ __metadata__: { a: 1 } })).toThrow(/__metadata__.a: expected a string, got 1/);
    expect(L({ __metadata__: [] })).toThrow(TypeError);
  });

  it('offsets out of range, reversed, overlapping, or not matching shape × dtype', () => {
    const L =
      (h: unknown, d = f32(1, 2)) =>
      () =>
        loadSafetensors(file(h, d));
    expect(L({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } })).toThrow(
      /data_offsets: expected offsets within the 8 data bytes, got \[0, 12\]/,
    );
    expect(L({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } })).toThrow(
      /data_offsets: expected begin <= end, got \[8, 4\]/,
    );
    expect(L({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } })).toThrow(
      /data_offsets: expected 12 bytes for shape \[3\] of F32, got 8 bytes \(\[0, 8\]\)/,
    );
    expect(L({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } })).toThrow(/expected 4 bytes for shape \[2\] of F16/);
    expect(
      L({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }),
    ).toThrow(
      /tensor "b": data_offsets: expected bytes not shared with another tensor, got \[4, 8\], overlapping "a" at \[0, 8\]/,
    );
    // An overlap hidden behind an empty tensor in between is still found.
    const d16 = new Uint8Array(16);
    expect(
      L(
        {
          a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
          e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
          c: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        d16,
      ),
    ).toThrow(/tensor "c".*overlapping "a"/);
    // Empty tensors and adjacent tensors are fine.
    expect(
      Object.keys(
        loadSafetensors(
          file(
            {
              a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
              e: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] },
              c: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
            },
            d16,
          ),
        ).tensors,
      ),
    ).toEqual(['a', 'e', 'c']);
  });

  it('wrong kinds of source', () => {
    expect(() => loadSafetensors(42 as never)).toThrow(
      /loadSafetensors: source: expected a file path, a Buffer \/ Uint8Array or an ArrayBuffer, got 42/,
    );
    expect(() => loadSafetensors(new Float32Array(4) as never)).toThrow(TypeError);
    expect(() => loadSafetensors(file(ok, f32(1, 2)), { filter: 3 } as never)).toThrow(TypeError);
  });
});
