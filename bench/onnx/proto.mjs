// Minimal protobuf writer covering the parts of onnx.proto the benchmark needs.
class Writer {
  constructor() {
    this.parts = [];
    this.len = 0;
  }
  push(u8) {
    this.parts.push(u8);
    this.len += u8.length;
    return this;
  }
  varint(v) {
    let x = BigInt.asUintN(64, BigInt(v));
    const out = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x) byte |= 0x80;
      out.push(byte);
    } while (x);
    return this.push(Uint8Array.from(out));
  }
  tag(field, wire) {
    return this.varint((field << 3) | wire);
  }
  int(field, v) {
    return this.tag(field, 0).varint(v);
  }
  float(field, v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.tag(field, 5).push(b);
  }
  bytes(field, u8) {
    return this.tag(field, 2).varint(u8.length).push(u8);
  }
  str(field, s) {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field, w) {
    return this.bytes(field, w.finish());
  }
  finish() {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export const FLOAT = 1,
  INT32 = 6,
  INT64 = 7;

export function tensorProto(name, dims, data) {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  // Float32Array → FLOAT, Int32Array → INT32, anything else (plain numbers) → INT64
  const type = data instanceof Float32Array ? FLOAT : data instanceof Int32Array ? INT32 : INT64;
  w.int(2, type);
  w.str(8, name);
  const raw = type === INT64 ? BigInt64Array.from(data, (x) => BigInt(x)) : data;
  w.bytes(9, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  return w;
}

export function valueInfo(name, dims, elemType = FLOAT) {
  const shape = new Writer();
  for (const d of dims) shape.msg(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, elemType).msg(2, shape);
  return new Writer().str(1, name).msg(2, new Writer().msg(1, tensorType));
}

// attrs: { name: number (int) | { f: number } | number[] (ints) }
export function node(opType, inputs, outputs, attrs = {}, domain = '') {
  const w = new Writer();
  for (const i of inputs) w.str(1, i);
  for (const o of outputs) w.str(2, o);
  w.str(3, `${opType}_${outputs[0]}`);
  w.str(4, opType);
  for (const [name, v] of Object.entries(attrs)) {
    const a = new Writer().str(1, name);
    if (Array.isArray(v)) {
      for (const x of v) a.int(8, x);
      a.int(20, 7);
    } else if (typeof v === 'object') a.float(2, v.f).int(20, 1);
    else a.int(3, v).int(20, 2);
    w.msg(5, a);
  }
  if (domain) w.str(7, domain);
  return w;
}

export function model({ nodes, initializers, inputs, outputs, opsets }) {
  const g = new Writer();
  for (const n of nodes) g.msg(1, n);
  g.str(2, 'attention');
  for (const t of initializers) g.msg(5, t);
  for (const i of inputs) g.msg(11, i);
  for (const o of outputs) g.msg(12, o);
  const m = new Writer().int(1, 8).str(2, 'native-attention-bench');
  for (const [domain, version] of Object.entries(opsets)) {
    m.msg(8, new Writer().str(1, domain).int(2, version));
  }
  return m.msg(7, g).finish();
}
