#!/usr/bin/env node
// native-attention benchmark harness. See README.md for flags and columns.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { SHAPES, SHAPE_ORDER, flops } from './lib/shapes.mjs';
import { copyBandwidthInChild } from './lib/bandwidth.mjs';
import { benchShape, CHECK_TOL } from './lib/run-shape.mjs';
import { cpuInfo, mappedBlasLibs, blasEnv, cpuSnapshot, backgroundLoad } from './lib/sysinfo.mjs';
import { renderReport } from './lib/report.mjs';
import { shortErr } from './lib/format.mjs';
import { renderChart } from './lib/chart.mjs';
import { selectPeers, PEERS } from './peers/index.mjs';
import { BASE_ORDER, SERVER_ORDER } from './lib/shapes.mjs';

const SHAPE_ALIASES = { base: BASE_ORDER, server: SERVER_ORDER };
import { loadOurs, sgemmGflops, attentionCoreGflops, blasInfo, blasCore, kernelIsa } from './peers/ours.mjs';
import { measureConcurrencyInChild } from './scripts/concurrency.mjs';
import { measureMemory } from './scripts/memory.mjs';

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
    'ort-spin': { type: 'boolean', default: false },
    'sgemm-n': { type: 'string', default: '2048' },
    'no-memory': { type: 'boolean', default: false },
    'no-concurrency': { type: 'boolean', default: false },
    'no-bandwidth': { type: 'boolean', default: false },
    'no-core': { type: 'boolean', default: false },
    'bw-mib': { type: 'string', default: '2048' },
    out: { type: 'string', default: path.join(HERE, 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--threads 1,2] [--shapes S1,S3] [--peers ours,ort,wasm]
  [--budget SECONDS] [--max-reps N] [--gap-ms MS] [--cpu-all] [--ort-spin] [--sgemm-n N] [--no-memory] [--no-concurrency]
  [--no-bandwidth] [--no-core] [--bw-mib MIB] [--out DIR]
shapes: ${SHAPE_ORDER.join(', ')} (aliases: base, server)
peers: ${PEERS.map((p) => p.id).join(', ')} (aliases: ort, tfjs)`);
  process.exit(0);
}

const quick = args.quick;
const opts = {
  quick,
  cpuAll: args['cpu-all'],
  ortSpin: args['ort-spin'],
  threads: args.threads.split(',').map(Number),
  shapes: args.shapes
    ? args.shapes.split(',').flatMap((s) => SHAPE_ALIASES[s.trim().toLowerCase()] ?? [s.trim().toUpperCase()])
    : SHAPE_ORDER,
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
    peerInfo[p.id] = {
      ok: false,
      label: p.label,
      reason: p.id === 'ours' ? `not available (import failed: ${shortErr(e)})` : shortErr(e),
    };
  }
}
const oursOk = peerInfo.ours?.ok === true;
let oursLoadable = oursOk; // the sgemm ceiling needs the package even when ours is not a selected peer
if (!oursOk && !peerInfo.ours)
  oursLoadable = await loadOurs().then(
    () => true,
    () => false,
  );

const meta = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpu: cpuInfo(),
  kernels: { isa: oursLoadable ? kernelIsa() : 'n/a', blasCore: oursLoadable ? blasCore() : null },
  // Set by bench/scripts/avx2-only.mjs: CPUID hid AVX-512 and AMX from every library here.
  cpuidMask: process.env.NATIVE_ATTENTION_CPUID_MASK || null,
  versions: {
    tensorflow: peerInfo['tfjs-node']?.tf ?? null,
    onnxruntime:
      Object.values(peerInfo)
        .find((p) => p.ok && p.version?.startsWith('onnxruntime-node@'))
        ?.version.split('@')[1] ?? null,
  },
  blas: {
    reported: oursLoadable ? blasInfo() : null,
    mappedLibraries: mappedBlasLibs(),
    env: blasEnv(),
  },
  options: { ...opts, argv: process.argv.slice(2) },
  peers: Object.fromEntries(
    peers.map((p) => [p.id, { ...peerInfo[p.id], threads: p.threadNote?.(Math.max(...opts.threads), opts) }]),
  ),
  checkTolerance: CHECK_TOL,
};

const ctx = { peers, peerInfo, opts, progress, refCache: new Map() };

// ---------- main ----------
const loadBefore = os.loadavg();
const snapStart = cpuSnapshot();
const results = [];
const ceiling = {};
const bandwidth = {};
const core = {}; // the attention core alone, per thread count
const reuse = new Map();
const wantBandwidth = !args['no-bandwidth'] && opts.shapes.some((s) => SHAPES[s].kind === 'decode');
for (const threads of opts.threads) {
  if (wantBandwidth) {
    // same run, same thread count: what the decode steps' GB/s is compared with
    progress(`${threads}t: memory bandwidth (copy of ${args['bw-mib']} MiB)`);
    try {
      bandwidth[threads] = await copyBandwidthInChild(threads, { mib: Number(args['bw-mib']), reps: quick ? 2 : 3 });
    } catch (e) {
      bandwidth[threads] = { error: shortErr(e) };
    }
  }
  const measureCeiling = (when) => {
    if (!oursLoadable) return { error: 'ours not available: no sgemm ceiling' };
    progress(`${threads}t: sgemm ceiling (${when})`);
    try {
      return sgemmGflops(Number(args['sgemm-n']), threads, { reps: quick ? 3 : 5 });
    } catch (e) {
      return { error: shortErr(e) };
    }
  };
  const wantCore = oursLoadable && !args['no-core'];
  const measureCore = (when) => {
    progress(`${threads}t: attention core, scaledDotProductAttention (${when})`);
    try {
      return attentionCoreGflops(threads, { reps: quick ? 3 : 5 });
    } catch (e) {
      return { error: shortErr(e) };
    }
  };
  const ceilBefore = measureCeiling('before');
  const coreBefore = wantCore ? measureCore('before') : null;
  for (const s of opts.shapes) {
    const rows = await benchShape(ctx, s, threads, opts.reuseSingleThreaded ? reuse.get(s) : null);
    for (const r of rows) {
      if (opts.reuseSingleThreaded && SINGLE_THREADED.has(r.peer) && r.status === 'ok' && !r.reused) {
        if (!reuse.has(s)) reuse.set(s, new Map());
        reuse.get(s).set(r.peer, { ...r, note: `timed in the ${threads}-thread pass (single-threaded peer)` });
      }
    }
    results.push(...rows);
    progress(`${threads}t ${s}: done`, true);
  }
  // The ceiling and the core are each the better of a measurement before and one after this
  // thread count's shapes: the same treatment for the numerator and the denominator of the
  // core's % of the ceiling (one noisy moment on a shared machine moves neither alone).
  if (wantCore) core[threads] = betterOf(coreBefore, measureCore('after'));
  ceiling[threads] = betterOf(ceilBefore, measureCeiling('after'));
}

function betterOf(before, after) {
  const best = [before, after].filter((c) => c.gflops).sort((a, b) => b.gflops - a.gflops)[0];
  return best ? { ...best, before: before.gflops, after: after.gflops } : before;
}

meta.loadavgAtStart = loadBefore;
meta.background = backgroundLoad(snapStart, cpuSnapshot(), meta.cpu.logicalCpus);

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
  // the server cases are left out: their peers differ and the run is long enough
  const memShapes = (quick ? opts.shapes.filter((s) => s === 'S3') : opts.shapes).filter((s) => !SHAPES[s].kind);
  const jobs = [];
  for (const s of memShapes) {
    for (const p of peers) {
      if (!peerInfo[p.id].ok || p.skip?.(s, flops(SHAPES[s]) / 1e9, opts) || (p.applies && !p.applies(SHAPES[s]))) continue;
      jobs.push({ peer: p.id, shape: s });
      if (p.id === 'ours') jobs.push({ peer: p.id, shape: s, mode: 'forwardWithWeights' });
    }
  }
  for (const j of jobs) {
    progress(`memory: ${j.shape} ${j.peer}${j.mode ? ` ${j.mode}` : ''} (child process)`);
    memory.push(await measureMemory({ ...j, threads: memThreads }));
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
      // In a fresh process: the peers loaded in this one (their thread pools) disturb it.
      concurrency = measureConcurrencyInChild({ shape: 'S2', threads: 2, reps: quick ? 3 : 7 });
    } catch (e) {
      concurrency = { error: shortErr(e) };
    }
    progress('concurrency: done', true);
  } else {
    concurrency = { error: 'ours not available' };
  }
}

// ---------- output ----------
// One set of files per CPU family (results/<cpu>.json, .txt, .svg), so runs on different machines
// do not overwrite each other; results/index.json lists them, newest first.
const report = { meta, ceiling, core, bandwidth, results, memory, concurrency };
mkdirSync(args.out, { recursive: true });
const base = path.join(args.out, meta.cpu.slug);
const text = renderReport(report);
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.txt`, text);
writeFileSync(`${base}.svg`, renderChart(report));
const indexFile = path.join(args.out, 'index.json');
let index = [];
try {
  index = JSON.parse(readFileSync(indexFile, 'utf8'));
} catch {}
index = [
  { file: meta.cpu.slug, cpu: meta.cpu.model, uarch: meta.cpu.uarch, date: meta.date, quick },
  ...index.filter((x) => x.file !== meta.cpu.slug),
];
writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
process.stdout.write(text);
process.stdout.write(
  `\nwrote ${path.relative(process.cwd(), base) || base}.json, .txt and .svg (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
);
process.exit(0);
