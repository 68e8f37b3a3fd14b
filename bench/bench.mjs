#!/usr/bin/env node
// native-attention benchmark harness. See README.md for flags and columns.
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SHAPES, SHAPE_ORDER, flops, describe } from './lib/shapes.mjs';
import { makeCase } from './lib/data.mjs';
import { referenceForward, relError } from './lib/reference.mjs';
import { median, sleep } from './lib/stats.mjs';
import { cpuInfo, mappedBlasLibs, blasEnv } from './lib/sysinfo.mjs';
import { renderReport } from './lib/report.mjs';
import { shortErr } from './lib/format.mjs';
import { renderChart } from './lib/chart.mjs';
import { selectPeers } from './peers/index.mjs';
import { loadOurs, sgemmGflops, blasInfo } from './peers/ours.mjs';
import { measureConcurrency } from './scripts/concurrency.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1,2' },
    shapes: { type: 'string' },
    peers: { type: 'string' },
    budget: { type: 'string' }, // seconds per shape and thread count
    'max-reps': { type: 'string' },
    'gap-ms': { type: 'string', default: '0' },
    'cpu-all': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'no-concurrency': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(HERE, 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--threads 1,2] [--shapes S1,S3] [--peers ours,ort,wasm]
  [--budget SECONDS] [--max-reps N] [--gap-ms MS] [--cpu-all] [--no-memory] [--no-concurrency] [--out DIR]
shapes: ${SHAPE_ORDER.join(', ')}   peers: ours, tfjs-node, ort-mha, ort-plain, wasm, cpu (aliases: ort, tfjs)`);
  process.exit(0);
}

const quick = args.quick;
const opts = {
  quick,
  cpuAll: args['cpu-all'],
  threads: args.threads.split(',').map(Number),
  shapes: args.shapes ? args.shapes.split(',').map((s) => s.trim().toUpperCase()) : SHAPE_ORDER,
  budgetMs: 1000 * Number(args.budget ?? (quick ? 3 : 25)),
  maxReps: Number(args['max-reps'] ?? (quick ? 30 : 200)),
  minReps: quick ? 2 : 5,
  warmups: quick ? 1 : 2, // extra untimed runs after the checked run
  gapMs: Number(args['gap-ms']),
  // In --quick, single-threaded peers are timed once and their row reused at other thread counts.
  reuseSingleThreaded: quick,
};
for (const s of opts.shapes) if (!SHAPES[s]) throw new Error(`unknown shape ${s} (known: ${SHAPE_ORDER.join(', ')})`);
for (const t of opts.threads) if (!(t >= 1)) throw new Error(`bad --threads ${args.threads}`);
const SINGLE_THREADED = new Set(['wasm', 'cpu']);
const REF64_MAX_GFLOP = 2; // float64 JS reference only for small shapes
const CHECK_TOL = 1e-4;
const CHECK_ORDER = ['ours', 'ort-plain', 'ort-mha', 'tfjs-node', 'wasm', 'cpu'];

// ---------- progress on stderr ----------
const tty = process.stderr.isTTY;
const t0 = performance.now();
function progress(msg, final = false) {
  const line = `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}`;
  if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
  else if (final) process.stderr.write(`${line}\n`);
}

// ---------- load peers ----------
const peers = selectPeers(args.peers?.split(',').map((s) => s.trim()));
const peerInfo = {};
for (const p of peers) {
  progress(`loading ${p.id}`);
  try {
    peerInfo[p.id] = { ok: true, label: p.label, ...(await p.load()) };
  } catch (e) {
    peerInfo[p.id] = { ok: false, label: p.label, reason: p.id === 'ours' ? `not available (import failed: ${shortErr(e)})` : shortErr(e) };
  }
}
const oursOk = peerInfo.ours?.ok === true;
let oursLoadable = oursOk; // the sgemm ceiling needs the package even when ours is not a selected peer
if (!oursOk && !peerInfo.ours) oursLoadable = await loadOurs().then(() => true, () => false);

const meta = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpu: cpuInfo(),
  blas: {
    reported: oursLoadable ? blasInfo() : null,
    mappedLibraries: mappedBlasLibs(),
    env: blasEnv(),
  },
  options: { ...opts, argv: process.argv.slice(2) },
  peers: Object.fromEntries(peers.map((p) => [p.id, { ...peerInfo[p.id], threads: p.threadNote?.(Math.max(...opts.threads)) }])),
  checkTolerance: CHECK_TOL,
};

// ---------- one shape at one thread count ----------
const refCache = new Map();
async function benchShape(shapeName, threads, reuse) {
  const shape = SHAPES[shapeName];
  const gflop = flops(shape) / 1e9;
  const c = makeCase(shape);
  const rows = [];
  const row = (p, extra) => {
    const r = { threads, shape: shapeName, peer: p.id, gflop, ...extra };
    rows.push(r);
    return r;
  };
  const live = [];
  for (const p of peers) {
    const info = peerInfo[p.id];
    if (!info.ok) { row(p, { status: 'unavailable', note: info.reason }); continue; }
    const skip = p.skip?.(shapeName, gflop, opts);
    if (skip) { row(p, { status: 'skipped', note: skip }); continue; }
    if (reuse?.has(p.id)) { row(p, { ...reuse.get(p.id), threads, reused: true }); continue; }
    progress(`${threads}t ${shapeName}: preparing ${p.id}`);
    try {
      const r = await p.prepare(c, threads);
      await r.before?.();
      const ts = performance.now();
      const out = await r.run();
      const firstMs = performance.now() - ts;
      live.push({ p, r, out: Float32Array.from(out), firstMs, times: [], spent: 0, row: row(p, { status: 'ok' }) });
    } catch (e) {
      row(p, { status: 'error', note: shortErr(e) });
    }
  }

  // correctness check before timing
  let ref = null, refName = null;
  if (gflop <= REF64_MAX_GFLOP) {
    if (!refCache.has(shapeName)) {
      progress(`${threads}t ${shapeName}: float64 reference`);
      refCache.set(shapeName, referenceForward(c));
    }
    ref = refCache.get(shapeName);
    refName = 'float64';
  } else {
    const refPeer = CHECK_ORDER.map((id) => live.find((x) => x.p.id === id)).find(Boolean);
    if (refPeer) { ref = refPeer.out; refName = refPeer.p.id; }
  }
  for (const x of live) {
    x.row.checkRef = refName;
    x.row.relErr = ref ? relError(x.out, ref) : null;
    if (refName === x.p.id) x.row.relErr = 0;
    if (x.row.relErr != null && !(x.row.relErr <= CHECK_TOL)) {
      x.row.status = 'failed-check';
      x.row.note = `output differs from ${refName}: rel. error ${x.row.relErr.toExponential(2)} > ${CHECK_TOL}`;
    }
    x.out = null;
  }
  const timed = live.filter((x) => x.row.status === 'ok');

  // warm-up (skipped for a peer whose checked run already ate a third of the budget)
  for (let w = 0; w < opts.warmups; w++) {
    for (const x of timed) {
      if (x.firstMs > opts.budgetMs / 3) continue;
      progress(`${threads}t ${shapeName}: warm-up ${x.p.id}`);
      await x.r.before?.();
      await x.r.run();
    }
  }

  // timed runs, round-robin, start rotated each round
  const start = performance.now();
  for (let round = 0; ; round++) {
    const pending = timed.filter((x) => !x.done);
    if (!pending.length) break;
    for (let i = 0; i < pending.length; i++) {
      const x = pending[(i + round) % pending.length];
      await x.r.before?.();
      if (opts.gapMs) await sleep(opts.gapMs);
      const ts = performance.now();
      await x.r.run();
      const ms = performance.now() - ts;
      x.times.push(ms);
      x.spent += ms;
      progress(`${threads}t ${shapeName}: rep ${round + 1} ${x.p.id} ${ms.toFixed(ms < 10 ? 3 : 1)} ms`);
    }
    const elapsed = performance.now() - start;
    for (const x of pending) {
      const n = x.times.length;
      if (n >= opts.maxReps || (n >= opts.minReps && elapsed >= opts.budgetMs) || (x.spent >= opts.budgetMs && n >= 1)) x.done = true;
    }
  }
  for (const x of timed) {
    const ms = median(x.times);
    Object.assign(x.row, { medianMs: ms, minMs: Math.min(...x.times), reps: x.times.length, gflops: gflop / (ms / 1000) });
  }
  for (const x of live) await x.r.dispose?.();
  return rows;
}

// ---------- main ----------
const results = [];
const ceiling = {};
const reuse = new Map();
for (const threads of opts.threads) {
  if (oursLoadable) {
    progress(`${threads}t: sgemm ceiling`);
    try {
      ceiling[threads] = sgemmGflops(2048, threads, { reps: quick ? 3 : 5 });
    } catch (e) {
      ceiling[threads] = { error: shortErr(e) };
    }
  } else {
    ceiling[threads] = { error: 'ours not available: no sgemm ceiling' };
  }
  for (const s of opts.shapes) {
    const rows = await benchShape(s, threads, opts.reuseSingleThreaded ? reuse.get(s) : null);
    for (const r of rows) {
      if (opts.reuseSingleThreaded && SINGLE_THREADED.has(r.peer) && r.status === 'ok' && !r.reused) {
        if (!reuse.has(s)) reuse.set(s, new Map());
        reuse.get(s).set(r.peer, { ...r, note: `timed in the ${threads}-thread pass (single-threaded peer)` });
      }
    }
    results.push(...rows);
    progress(`${threads}t ${s}: done`, true);
  }
}

// derived columns: speed-up of ours over each peer, % of the sgemm ceiling
for (const r of results) {
  const ours = results.find((x) => x.threads === r.threads && x.shape === r.shape && x.peer === 'ours' && x.status === 'ok');
  if (ours && r.status === 'ok' && r.peer !== 'ours') r.speedup = r.medianMs / ours.medianMs;
  const ceil = ceiling[r.threads]?.gflops;
  if (ceil && r.gflops) r.pctCeiling = (100 * r.gflops) / ceil;
}

// ---------- memory: peak RSS in fresh child processes ----------
const memory = [];
if (!args['no-memory']) {
  const memThreads = Math.max(...opts.threads);
  const memShapes = quick ? opts.shapes.filter((s) => s === 'S3') : opts.shapes;
  const jobs = [];
  for (const s of memShapes) {
    for (const p of peers) {
      if (!peerInfo[p.id].ok || p.skip?.(s, flops(SHAPES[s]) / 1e9, opts)) continue;
      jobs.push({ peer: p.id, shape: s });
      if (p.id === 'ours') jobs.push({ peer: p.id, shape: s, mode: 'forwardWithWeights' });
    }
  }
  for (const j of jobs) {
    progress(`memory: ${j.shape} ${j.peer}${j.mode ? ` ${j.mode}` : ''} (child process)`);
    const argv = ['--expose-gc', path.join(HERE, 'scripts', 'memory-child.mjs'), '--peer', j.peer, '--shape', j.shape, '--threads', String(memThreads)];
    if (j.mode) argv.push('--mode', j.mode);
    const res = await new Promise((resolve) => {
      execFile(process.execPath, argv, { timeout: 600_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop();
        const why = err?.killed ? 'timed out' : `child exited with ${err?.code ?? 0}: ${stderr.trim().split('\n').pop() ?? ''}`;
        try { resolve(JSON.parse(last)); } catch { resolve({ ...j, threads: memThreads, mode: j.mode ?? 'forward', error: why }); }
      });
    });
    memory.push(res);
  }
  for (const m of memory) {
    if (m.mode !== 'forward' || m.error) continue;
    for (const r of results) if (r.shape === m.shape && r.peer === m.peer) r.peakRssMB = m.peakMB;
  }
  progress(`memory: ${memory.length} child runs done`, true);
}

// ---------- concurrency (ours only) ----------
let concurrency = null;
if (!args['no-concurrency']) {
  if (oursLoadable) {
    progress('concurrency: ours S2, 2 x forwardAsync');
    try {
      concurrency = await measureConcurrency({ shape: 'S2', threads: 2, reps: quick ? 3 : 7 });
    } catch (e) {
      concurrency = { error: shortErr(e) };
    }
    progress('concurrency: done', true);
  } else {
    concurrency = { error: 'ours not available' };
  }
}

// ---------- output ----------
const report = { meta, ceiling, results, memory, concurrency };
mkdirSync(args.out, { recursive: true });
writeFileSync(path.join(args.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(path.join(args.out, 'chart.svg'), renderChart(report));
process.stdout.write(renderReport(report));
process.stdout.write(`\nwrote ${path.relative(process.cwd(), path.join(args.out, 'latest.json')) || 'latest.json'} and chart.svg (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
process.exit(0);
