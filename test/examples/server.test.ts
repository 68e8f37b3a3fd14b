// The example server (examples/server) in-process, on an ephemeral loopback port, with a
// small layer: answers equal the layer's own forward on each sequence in both batch
// layouts (padded, and packed through a stand-in layer that has sequenceLengths), every
// rejection has its status and message, a full queue answers 503 + Retry-After, /metrics
// is well-formed exposition text, and a shutdown drains what was accepted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AttentionLayer,
  cgroupCpuLimit,
  createServer,
  escapeLabelValue,
  parseCpuMax,
  type ServerConfig,
  type Service,
  type Tensor,
} from '../../examples/server/index.mjs';
import { MultiHeadAttention } from '../../lib';

const E = 16;
const layer = new MultiHeadAttention({ embedDim: E, numHeads: 2, seed: 3 });

const CONFIG: ServerConfig = {
  maxTokens: 64,
  maxBodyBytes: 0,
  batchWindowMs: 20, // wide, so that concurrent test requests surely share a batch
  batchTokens: 4096,
  maxBatch: 64,
  maxInFlight: 1,
  queueSize: 32,
  causal: false,
  batching: 'auto',
  padSlack: 10, // padded batches: let any lengths share one
  shutdownTimeoutMs: 5000,
};

function input(T: number, seed: number): Float32Array {
  const x = new Float32Array(T * E);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(seed * 7.1 + i * 0.13);
  return x;
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(1e-5);
}

/** A layer with the packed mode of the issue, made of one real call per sequence. */
function packedStandIn(real: MultiHeadAttention): AttentionLayer {
  const run = (x: Tensor, options?: object): Tensor => {
    const { sequenceLengths, ...rest } = (options ?? {}) as { sequenceLengths?: Int32Array };
    if (!sequenceLengths) return real.forward(x, null, null, rest);
    const out = new Float32Array(x.shape[0]! * real.outputDim);
    let row = 0;
    for (const T of sequenceLengths) {
      const y = real.forward({ data: x.data.slice(row * E, (row + T) * E), shape: [T, E] }, null, null, rest);
      out.set(y.data, row * real.outputDim);
      row += T;
    }
    return { data: out, shape: [x.shape[0]!, real.outputDim] };
  };
  return {
    embedDim: real.embedDim,
    outputDim: real.outputDim,
    forward: (x, _k, _v, options) => run(x, options),
    forwardAsync: async (x, _k, _v, options) => run(x, options),
  };
}

/** The real layer, whose async calls wait until `open()`: requests pile up on demand. */
function gatedLayer(real: MultiHeadAttention) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const gated: AttentionLayer = {
    embedDim: real.embedDim,
    outputDim: real.outputDim,
    forward: (x, k, v, options) => real.forward(x, k, v, options),
    forwardAsync: async (x, k, v, options) => {
      await gate;
      return real.forwardAsync(x, k, v, options);
    },
  };
  return { gated, open };
}

/** Polls until `ready()` (the server got there), rather than sleeping a guessed time. */
async function until(ready: () => boolean): Promise<void> {
  for (let waited = 0; !ready(); waited += 5) {
    if (waited > 10_000) throw new Error('timed out waiting for the server');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const services: Service[] = [];
async function start(l: AttentionLayer, config: Partial<ServerConfig> = {}) {
  const service = createServer(l, { ...CONFIG, ...config });
  services.push(service);
  const { port } = await service.listen(0, '127.0.0.1');
  return { service, url: `http://127.0.0.1:${port}` };
}
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.shutdown()));
});

function postBinary(url: string, x: Float32Array, T: number, features = E) {
  return fetch(`${url}/attention`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'x-shape': `${T},${features}` },
    body: new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
  });
}

function postJson(url: string, body: string) {
  return fetch(`${url}/attention`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

async function binaryOutput(res: Response): Promise<Float32Array> {
  expect(res.status).toBe(200);
  return new Float32Array(await res.arrayBuffer());
}

describe('example server', () => {
  it('answers JSON and binary requests with the layer’s own output', async () => {
    const { url } = await start(layer, { batchWindowMs: 0 });
    const x = input(5, 1);
    const expected = layer.forward({ data: x, shape: [5, E] }).data;
    const res = await postBinary(url, x, 5);
    expect(res.headers.get('x-shape')).toBe(`5,${E}`);
    expectClose(await binaryOutput(res), expected);

    const rows = Array.from({ length: 5 }, (_, t) => Array.from(x.subarray(t * E, (t + 1) * E)));
    const json = await postJson(url, JSON.stringify({ x: rows }));
    expect(json.status).toBe(200);
    const body = (await json.json()) as { shape: number[]; y: number[][] };
    expect(body.shape).toEqual([5, E]);
    expectClose(Float32Array.from(body.y.flat()), expected);
  });

  for (const mode of ['padded', 'packed'] as const) {
    it(`batches concurrent requests of different lengths (${mode}) and splits the results exactly`, async () => {
      const l = mode === 'packed' ? packedStandIn(layer) : layer;
      const lengths = [3, 9, 1, 17, 6, 12];
      // A long window closed by the batch size: the six share a call however slow the machine.
      const { service, url } = await start(l, {
        batching: mode === 'packed' ? 'auto' : 'padded',
        batchWindowMs: 2000,
        maxBatch: lengths.length,
      });
      expect(service.batcher.mode).toBe(mode);
      const outputs = await Promise.all(lengths.map((T, i) => postBinary(url, input(T, i), T).then(binaryOutput)));
      lengths.forEach((T, i) => {
        expectClose(outputs[i]!, layer.forward({ data: input(T, i), shape: [T, E] }).data);
      });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^attention_batch_requests_count 1$/m);
      expect(metrics).toMatch(/^attention_batch_requests_sum 6$/m);
    });
  }

  it('detects that the current layer has no packed mode, or checks the one it has', async () => {
    const { service } = await start(layer);
    expect(['packed', 'padded']).toContain(service.batcher.mode);
    if (service.batcher.mode === 'padded') expect(service.batcher.modeReason).toMatch(/sequenceLengths/);
  });

  it('refuses bad requests with 400/404/405/413/415 and a message saying what was expected', async () => {
    const { url } = await start(layer, { batchWindowMs: 0 });
    const row = Array(E).fill(0.5);
    const cases: [Promise<Response>, number, RegExp][] = [
      [postJson(url, '{"x": [[1, 2], '), 400, /not valid JSON/],
      [postJson(url, '[1, 2]'), 400, /expected a JSON object/],
      [postJson(url, JSON.stringify({ x: [row.slice(1)] })), 400, /x\[0\]: expected 16 numbers .*got 15/],
      [postJson(url, JSON.stringify({ x: [] })), 400, /at least 1 row/],
      [postJson(url, JSON.stringify({ x: Array(65).fill(row) })), 400, /at most 64 rows/],
      [postJson(url, JSON.stringify({ x: [[...row.slice(1), 'a']] })), 400, /x\[0\]\[15\]: expected a finite number/],
      [
        postJson(url, JSON.stringify({ x: [[...row.slice(1), 1e39]] })),
        400,
        /x\[0\]\[15\]: expected a finite number \(float32\), got 1e\+39/,
      ],
      [postBinary(url, new Float32Array(2 * E).fill(Number.NaN), 2), 400, /x\[0\]\[0\]: expected a finite number, got NaN/],
      [postBinary(url, new Float32Array(2 * 8), 2, 8), 400, /x-shape: expected T,16/],
      [postBinary(url, new Float32Array(3 * E), 2), 400, /expected 128 bytes/],
      [postJson(url, 'x'.repeat(64 * E * 24 + 2048)), 413, /body too large/],
      [fetch(`${url}/attention`, { method: 'POST', body: 'hi', headers: { 'content-type': 'text/plain' } }), 415, /content-type/],
      [fetch(`${url}/attention`), 405, /expected POST/],
      [fetch(`${url}/nowhere`), 404, /no route/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    // Still serving.
    expect((await postBinary(url, input(2, 0), 2)).status).toBe(200);
  });

  it('answers 503 with Retry-After when the queue is full, and serves the accepted ones', async () => {
    const { gated, open } = gatedLayer(layer);
    const { service, url } = await start(gated, { queueSize: 2, maxBatch: 1, maxInFlight: 1, batchWindowMs: 0 });
    const first = postBinary(url, input(4, 1), 4); // computing (held at the gate)
    await until(() => service.batcher.inFlight === 1);
    const queued = [postBinary(url, input(4, 2), 4), postBinary(url, input(4, 3), 4)];
    await until(() => service.batcher.queueDepth === 2);
    const refused = await postBinary(url, input(4, 4), 4);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toMatch(/queue is full/);
    open();
    for (const res of await Promise.all([first, ...queued])) expect(res.status).toBe(200);
  });

  it('exposes well-formed Prometheus metrics', async () => {
    const { url } = await start(layer, { batchWindowMs: 0 });
    await postBinary(url, input(3, 1), 3);
    await postJson(url, 'nope');
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const typed = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      const type = /^# TYPE (\w+) (counter|gauge|histogram|summary)$/.exec(line);
      if (type) typed.add(type[1]!);
      if (line.startsWith('#')) {
        expect(line).toMatch(/^# (HELP|TYPE) \w+ \S/);
        continue;
      }
      const sample = /^(\w+?)(_bucket|_sum|_count)?(\{(\w+="(?:[^"\\\n]|\\["\\n])*",?)*\})? (\S+)$/.exec(line);
      expect(sample, line).not.toBeNull();
      expect(typed.has(sample![1]!) || typed.has(`${sample![1]}${sample![2] ?? ''}`), line).toBe(true);
      expect(sample![5], line).toMatch(/^(NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/);
    }
    expect(text).toMatch(/^attention_http_requests_total\{route="attention",code="200"\} 1$/m);
    expect(text).toMatch(/^attention_http_requests_total\{route="attention",code="400"\} 1$/m);
    expect(text).toMatch(/^attention_request_duration_seconds\{quantile="0.99"\} \S+$/m);
    expect(text).toMatch(/^attention_batch_requests_bucket\{le="\+Inf"\} 1$/m);
    expect(text).toMatch(/^attention_queue_depth 0$/m);
    expect(text).toMatch(/^attention_batches_in_flight 0$/m);
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('drains on shutdown: accepted requests are answered, the port closes', async () => {
    const { gated, open } = gatedLayer(layer);
    const { service, url } = await start(gated, { maxBatch: 1, maxInFlight: 1, batchWindowMs: 0 });
    const accepted = [postBinary(url, input(4, 1), 4), postBinary(url, input(5, 2), 5)];
    await until(() => service.batcher.inFlight === 1 && service.batcher.queueDepth === 1);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const done = service.shutdown();
    expect((await fetch(`${url}/healthz`).catch(() => null))?.status ?? 'closed').not.toBe(200);
    open();
    for (const res of await Promise.all(accepted)) expect(res.status).toBe(200);
    expect(await done).toBe(true);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('cpuQuota', () => {
  it('reads cgroup v2 cpu.max and v1 cfs quota, the smallest along the path', () => {
    expect(parseCpuMax('max 100000\n')).toBe(Infinity);
    expect(parseCpuMax('200000 100000\n')).toBe(2);
    expect(parseCpuMax('150000 100000')).toBe(1.5);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cgroup-'));
    try {
      fs.mkdirSync(path.join(root, 'pod', 'app'), { recursive: true });
      fs.writeFileSync(path.join(root, 'cpu.max'), 'max 100000\n');
      fs.writeFileSync(path.join(root, 'pod', 'cpu.max'), '300000 100000\n');
      fs.writeFileSync(path.join(root, 'pod', 'app', 'cpu.max'), 'max 100000\n');
      expect(cgroupCpuLimit({ root, selfCgroup: '0::/pod/app\n' })).toBe(3);
      expect(cgroupCpuLimit({ root, selfCgroup: '0::/\n' })).toBe(Infinity);
      fs.mkdirSync(path.join(root, 'cpu,cpuacct', 'docker', 'x'), { recursive: true });
      fs.writeFileSync(path.join(root, 'cpu,cpuacct', 'docker', 'x', 'cpu.cfs_quota_us'), '50000\n');
      fs.writeFileSync(path.join(root, 'cpu,cpuacct', 'docker', 'x', 'cpu.cfs_period_us'), '100000\n');
      expect(cgroupCpuLimit({ root, selfCgroup: '4:cpu,cpuacct:/docker/x\n' })).toBe(0.5);
      fs.writeFileSync(path.join(root, 'cpu,cpuacct', 'docker', 'x', 'cpu.cfs_quota_us'), '-1\n');
      expect(cgroupCpuLimit({ root, selfCgroup: '4:cpu,cpuacct:/docker/x\n' })).toBe(Infinity);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
