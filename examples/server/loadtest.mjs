// Load test of the example server, on loopback only, bounded in time and in requests:
//
//   npm ci --prefix examples/server && node examples/server/loadtest.mjs \
//     [--duration 5] [--rounds 3] [--connections 32] [--rate 0] [--t-min 16] [--t-max 128] [-- flags for (b)]
//
// Starts the servers itself (child processes), then:
//   (a) one forwardAsync per request (--max-batch 1) and (b) dynamic batching, under the
//       same offered load (closed loop, same connections; or --rate N requests/s for
//       both), alternated round by round so that the machine's noise falls on both
//       alike; medians and the per-round ratio;
//   (c) overload: far more connections than the queue holds: 503 + Retry-After, no
//       timeouts, no crash, healthy afterwards;
//   (d) 10% malformed requests mixed in: 400s for those, 200s for the others;
//   then SIGTERM to each server: a drained, clean exit.
// Requests carry T uniform in [t-min, t-max] tokens of E = 256 float32 (fixed seed).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1'; // loopback only, whatever the environment says

// Arguments after `--` go to the batching server (b), e.g. `-- --batch-window-ms 0`.
const dashes = process.argv.indexOf('--');
const args = process.argv.slice(2, dashes < 0 ? undefined : dashes);
const B_FLAGS = dashes < 0 ? [] : process.argv.slice(dashes + 1);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const DURATION = flag('duration', 5); // seconds per run
const ROUNDS = flag('rounds', 3);
const CONNECTIONS = flag('connections', 32);
// --rate N: (a) and (b) at a fixed N requests/s (open loop, latency corrected for
// coordinated omission) instead of as fast as the connections go: equal offered load in
// the strict sense, to compare latency and CPU at a rate both can serve.
const RATE = flag('rate', 0);
const MAX_REQUESTS = 200_000; // per run: a bound on count besides the one on time
const E = 256;
const T_MIN = flag('t-min', 16);
const T_MAX = flag('t-max', 128);

// ---- requests ---------------------------------------------------------------------------
function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 512 binary requests, T uniform in [T_MIN, T_MAX], values uniform in [-1, 1). */
function makeRequests(seed) {
  const next = mulberry32(seed);
  return Array.from({ length: 512 }, () => {
    const T = T_MIN + Math.floor(next() * (T_MAX - T_MIN + 1));
    const x = new Float32Array(T * E);
    for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
    return {
      method: 'POST',
      path: '/attention',
      headers: { 'content-type': 'application/octet-stream', 'x-shape': `${T},${E}` },
      body: Buffer.from(x.buffer),
    };
  });
}

/** One of each kind of bad request, in turn. */
function makeMalformed() {
  const json = { 'content-type': 'application/json' };
  const bin = (T, features) => ({ 'content-type': 'application/octet-stream', 'x-shape': `${T},${features}` });
  const nan = new Float32Array(20 * E).fill(0.5);
  nan[77] = Number.NaN;
  return [
    { headers: json, body: '{"x": [[0.1, 0.2], ' }, // not JSON
    { headers: json, body: JSON.stringify({ x: [Array(E - 1).fill(0.5)] }) }, // wrong feature size
    { headers: json, body: JSON.stringify({ x: [] }) }, // T = 0
    { headers: bin(20, E), body: Buffer.from(nan.buffer) }, // NaN
    { headers: bin(20, 128), body: Buffer.alloc(20 * 128 * 4) }, // wrong feature size
    { headers: bin(100000, E), body: Buffer.alloc(16) }, // T above the limit (refused before the body is read)
  ].map((r) => ({ method: 'POST', path: '/attention', ...r }));
}

// ---- servers ----------------------------------------------------------------------------
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts main.mjs with these flags on an ephemeral loopback port; resolves { url, child, exited }. */
function startServer(name, flags) {
  const child = spawn(process.execPath, [path.join(HERE, 'main.mjs'), '--host', HOST, '--port', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening" line within 30 s`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && /\n\{.*\}\n/.test(out)) {
        clearTimeout(timer);
        const config = JSON.parse(/\n(\{.*\})\n/.exec(out)[1]);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ name, url: m[1], child, exited, config });
      }
    });
    child.on('exit', () => reject(new Error(`${name}: exited before listening:\n${out}`)));
  });
}

async function stopServer(server) {
  const started = performance.now();
  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  return { code, signal, ms: performance.now() - started };
}

/** CPU seconds (user + system, all threads) the server process has used: Linux only, else NaN. */
function cpuSeconds(server) {
  try {
    const fields = fs.readFileSync(`/proc/${server.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux ABI Node supports

async function scrape(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    requestsPerBatch: value('attention_batch_requests_sum') / value('attention_batch_requests_count'),
    batches: value('attention_batch_requests_count'),
    paddingTokens: value('attention_padding_tokens_total') || 0, // no sample until a padded batch ran
    tokens: value('attention_batch_tokens_sum'),
  };
}

// ---- runs -------------------------------------------------------------------------------
/**
 * An autocannon run (closed loop, or `rate` requests/s); `pick(i)` gives the i-th request. Also measures the
 * server's CPU time per answered request: on a shared machine, where wall-clock figures
 * move with the neighbours' load, it is the steadier measure of what a request costs.
 */
async function load(server, { connections, duration, pick, rate = 0 }) {
  let i = 0;
  const cpu0 = cpuSeconds(server);
  const result = await autocannon({
    url: server.url,
    connections,
    duration,
    ...(rate > 0 ? { overallRate: rate } : {}),
    maxOverallRequests: MAX_REQUESTS,
    timeout: 10, // seconds: a request slower than this counts as a timeout
    requests: [{ setupRequest: (req) => ({ ...req, ...pick(i++) }) }],
  });
  result.cpuMsPerRequest = ((cpuSeconds(server) - cpu0) * 1000) / result.requests.total;
  return result;
}

function summarize(result) {
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: result.cpuMsPerRequest,
    codes,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, digits = 1) => x.toFixed(digits);

async function main() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`load test: ${os.availableParallelism()} CPUs (${cpu}), Node ${process.version}, ${HOST} only`);
  console.log(
    `(a)/(b): ${CONNECTIONS} connections${RATE > 0 ? ` at ${RATE} req/s` : ''}, ${DURATION} s per run, ${ROUNDS} rounds, T uniform in [${T_MIN}, ${T_MAX}], E = ${E}`,
  );
  const requests = makeRequests(12);

  // (a) as a server without batching would run: every request's call starts at once (the
  // library itself admits as many async calls at a time as it has threads).
  const single = await startServer('(a) one call per request', [
    '--max-batch',
    '1',
    '--batch-window-ms',
    '0',
    '--max-in-flight',
    '64',
  ]);
  const batched = await startServer('(b) dynamic batching', B_FLAGS);
  console.log(`(b) batching: ${batched.config.batching.mode} (${batched.config.batching.why})`);
  console.log(
    `(b) settings: window ${batched.config.batchWindowMs} ms, budget ${batched.config.batchTokens} tokens, max batch ${batched.config.maxBatch}, ${batched.config.maxInFlight} in flight, ${batched.config.threads} threads`,
  );

  // Warm-up: first calls allocate the workspace; not measured.
  for (const s of [single, batched]) await load(s, { connections: CONNECTIONS, duration: 1, pick: (i) => requests[i % 512] });

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate who goes first, so a slow patch of the shared machine hits both.
    const order = r % 2 === 0 ? [single, batched] : [batched, single];
    const round = {};
    for (const s of order) {
      round[s === single ? 'a' : 'b'] = summarize(
        await load(s, { connections: CONNECTIONS, duration: DURATION, rate: RATE, pick: (i) => requests[i % 512] }),
      );
    }
    rounds.push(round);
    const { a, b } = round;
    console.log(
      `round ${r + 1}: (a) ${fmt(a.rps)} req/s p50 ${a.p50} ms p99 ${a.p99} ms ${fmt(a.cpu, 2)} cpu-ms/req | (b) ${fmt(b.rps)} req/s p50 ${b.p50} ms p99 ${b.p99} ms ${fmt(b.cpu, 2)} cpu-ms/req | (b)/(a) req/s ${fmt(b.rps / a.rps, 2)}×, p99 ${fmt(b.p99 / a.p99, 2)}×`,
    );
  }
  const batchStats = await scrape(batched);

  // (c) overload: a small queue and eight times more connections than it holds.
  const small = await startServer('(c) overload', ['--queue-size', '16']);
  const overload = summarize(await load(small, { connections: 128, duration: DURATION, pick: (i) => requests[i % 512] }));
  const healthy = (await fetch(`${small.url}/healthz`)).status;

  // (d) every 10th request malformed, rotating through the kinds of bad input.
  const malformed = makeMalformed();
  let bad = 0;
  const mixed = summarize(
    await load(batched, {
      connections: CONNECTIONS,
      duration: DURATION,
      pick: (i) => {
        if (i % 10 === 9) return malformed[bad++ % malformed.length];
        return requests[i % 512];
      },
    }),
  );

  const stops = await Promise.all([single, batched, small].map(stopServer));

  // ---- report ---------------------------------------------------------------------------
  const col = (k, f) => median(rounds.map((r) => f(r[k])));
  console.log('\n| run | req/s | p50 ms | p99 ms | server CPU ms / request | status codes | errors | timeouts |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [k, label] of [
    ['a', '(a) one forwardAsync per request'],
    ['b', '(b) dynamic batching'],
  ]) {
    const codes = {};
    for (const r of rounds) for (const [c, n] of Object.entries(r[k].codes)) codes[c] = (codes[c] ?? 0) + n;
    const errors = rounds.reduce((n, r) => n + r[k].errors, 0);
    const timeouts = rounds.reduce((n, r) => n + r[k].timeouts, 0);
    console.log(
      `| ${label} | ${fmt(col(k, (x) => x.rps))} | ${col(k, (x) => x.p50)} | ${col(k, (x) => x.p99)} | ${fmt(
        col(k, (x) => x.cpu),
        2,
      )} | ${JSON.stringify(codes)} | ${errors} | ${timeouts} |`,
    );
  }
  console.log(
    `| (c) overload, queue 16, 128 connections | ${fmt(overload.rps)} | ${overload.p50} | ${overload.p99} | ${fmt(overload.cpu, 2)} | ${JSON.stringify(overload.codes)} | ${overload.errors} | ${overload.timeouts} |`,
  );
  console.log(
    `| (d) 10% malformed | ${fmt(mixed.rps)} | ${mixed.p50} | ${mixed.p99} | ${fmt(mixed.cpu, 2)} | ${JSON.stringify(mixed.codes)} | ${mixed.errors} | ${mixed.timeouts} |`,
  );
  const ratios = rounds.map((r) => r.b.rps / r.a.rps);
  const p99s = rounds.map((r) => r.b.p99 / r.a.p99);
  const cpus = rounds.map((r) => r.b.cpu / r.a.cpu);
  console.log(
    `\n(b)/(a), per round: req/s ${ratios.map((x) => fmt(x, 2)).join(', ')} (median ${fmt(median(ratios), 2)}×); p99 ${p99s.map((x) => fmt(x, 2)).join(', ')} (median ${fmt(median(p99s), 2)}×); server CPU per request ${cpus.map((x) => fmt(x, 2)).join(', ')} (median ${fmt(median(cpus), 2)}×)`,
  );
  console.log(
    `(b) batches: ${batchStats.batches}, ${fmt(batchStats.requestsPerBatch, 1)} requests per batch on average; padding ${fmt((100 * batchStats.paddingTokens) / batchStats.tokens, 1)}% of computed tokens`,
  );
  console.log(`(c) /healthz after the overload: ${healthy}`);
  console.log(
    `(d) ${bad} malformed sent (every 10th), ${mixed.codes[400] ?? 0} answered 400, ${mixed.codes[200] ?? 0} answered 200`,
  );
  console.log(`SIGTERM: ${stops.map((s) => `exit ${s.code ?? s.signal} in ${fmt(s.ms, 0)} ms`).join(', ')}`);

  const ok =
    overload.timeouts === 0 &&
    (overload.codes[503] ?? 0) > 0 &&
    healthy === 200 &&
    mixed.timeouts === 0 &&
    (mixed.codes[400] ?? 0) > 0 &&
    (mixed.codes[200] ?? 0) > 0 &&
    stops.every((s) => s.code === 0);
  console.log(ok ? '\nchecks: pass' : '\nchecks: FAIL');
  process.exitCode = ok ? 0 : 1;
}

// A hard bound on the whole run, whatever happens.
const budget = (3 + 2 * ROUNDS * DURATION + 2 * DURATION + 60) * 1000;
setTimeout(() => {
  console.error(`load test: still running after ${budget / 1000} s, giving up`);
  process.exit(1);
}, budget).unref();

await main();
