#!/usr/bin/env node
// Runs the test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
// addon, in its own folder so the normal build is untouched:
//
//   node scripts/test-asan.mjs [--no-build] [--out DIR] [--] [vitest args / test files...]
//
//   1. builds build-asan/Debug/native_attention.node
//      (scripts/build-native.mjs --sanitize --debug --out build-asan), and compiles lib/ into
//      build-asan/dist for the tests that run the compiled package in children or workers;
//   2. preloads gcc's libasan + libubsan (Node itself is not instrumented, so the sanitizer
//      runtimes must come first in the library list) and points the loader at the
//      sanitized binary with NATIVE_ATTENTION_BINARY;
//   3. runs `vitest run` (every test by default, or the files given), then scans the output
//      for sanitizer reports: any report, or a failing test, fails the run.
//
// ASAN_OPTIONS: detect_leaks=0 (Node does not free everything at exit: LeakSanitizer would
// only report V8), allocator_may_return_null=1 (the tests ask for absurd sizes on purpose
// and expect a clean "could not allocate" rather than an ASan abort).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const take = (flag) => {
  const i = argv.indexOf(flag);
  if (i < 0) return null;
  const [, value] = argv.splice(i, 2);
  return value;
};
const noBuild = argv.includes('--no-build');
if (noBuild) argv.splice(argv.indexOf('--no-build'), 1);
const outDir = path.resolve(root, take('--out') ?? 'build-asan');
if (argv[0] === '--') argv.shift();
const vitestArgs = argv;

const started = Date.now();
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
const log = (msg) => console.log(`test-asan: ${msg}`);

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r;
}

// ---- 1. build ------------------------------------------------------------------------
const binary = path.join(outDir, 'Debug', 'native_attention.node');
const dist = path.join(outDir, 'dist');
if (!noBuild) {
  const t = Date.now();
  log(`building the sanitized addon into ${path.relative(root, outDir)}/`);
  const r = run(process.execPath, [
    path.join(root, 'scripts', 'build-native.mjs'),
    '--sanitize',
    '--debug',
    '--out',
    path.relative(root, outDir),
  ]);
  if (r.status !== 0) process.exit(r.status ?? 1);
  log(`compiling lib/ into ${path.relative(root, dist)}/`);
  const tsc = run(process.execPath, [
    path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    path.join(root, 'tsconfig.json'),
    '--outDir',
    dist,
  ]);
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  log(`built in ${seconds(t)} s`);
}
if (!fs.existsSync(binary)) {
  console.error(`test-asan: ${binary} is missing (run without --no-build)`);
  process.exit(1);
}
// ---- 2. sanitizer runtimes -------------------------------------------------------------
function runtime(name) {
  for (const cc of [process.env.CXX, 'g++', 'c++', 'gcc'].filter(Boolean)) {
    const r = spawnSync(cc, [`-print-file-name=${name}`], { encoding: 'utf8' });
    const file = r.status === 0 ? r.stdout.trim() : '';
    if (file && path.isAbsolute(file) && fs.existsSync(file)) return fs.realpathSync(file);
  }
  console.error(`test-asan: cannot find ${name} (g++ -print-file-name=${name}); install g++ (libasan/libubsan come with it)`);
  process.exit(1);
}
// The runtimes the binary was linked against must be the ones preloaded: check with ldd.
const asan = runtime('libasan.so');
const ubsan = runtime('libubsan.so');
const ldd = spawnSync('ldd', [binary], { encoding: 'utf8' }).stdout ?? '';
for (const lib of ['libasan', 'libubsan']) {
  if (!ldd.includes(lib)) log(`warning: ${path.basename(binary)} does not link ${lib}: was it built with --sanitize?`);
}

const env = {
  ...process.env,
  LD_PRELOAD: [asan, ubsan, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: [
    'detect_leaks=0',
    'allocator_may_return_null=1',
    'halt_on_error=1',
    'abort_on_error=0',
    'detect_stack_use_after_return=0',
    'print_summary=1',
    process.env.ASAN_OPTIONS,
  ]
    .filter(Boolean)
    .join(':'),
  UBSAN_OPTIONS: ['halt_on_error=1', 'print_stacktrace=1', 'report_error_type=1', process.env.UBSAN_OPTIONS]
    .filter(Boolean)
    .join(':'),
  NATIVE_ATTENTION_BINARY: binary,
  NATIVE_ATTENTION_DIST: dist,
  // Slower under ASan: give the suites room.
  FUZZ_RUNS: process.env.FUZZ_RUNS ?? '0.25',
};

// Smoke test: the sanitized addon loads and computes under the preloaded runtimes.
{
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const n = require(process.env.NATIVE_ATTENTION_BINARY); const o = new Float32Array(4);
      n.matmul(new Float32Array([1,2,3,4]), new Float32Array([1,0,0,1]), o, 2, 2, 2);
      if (o.join() !== '1,2,3,4') throw new Error('wrong result ' + o.join()); console.log('ok');`,
    ],
    { env, encoding: 'utf8' },
  );
  if (probe.status !== 0 || !probe.stdout.includes('ok')) {
    console.error(`test-asan: the sanitized addon does not load:\n${probe.stdout}\n${probe.stderr}`);
    process.exit(1);
  }
  log(`sanitized addon loads (LD_PRELOAD=${env.LD_PRELOAD})`);
}

// ---- 3. the suite ------------------------------------------------------------------------
// Timing assertions (event-loop lag, speed-ups) measure ASan's malloc, not the code: the
// tests tagged `timing` (vitest.config.mts) are left out unless the caller filters tags.
if (!vitestArgs.some((a) => a.startsWith('--tags-filter') || a.startsWith('--tagsFilter'))) {
  vitestArgs.push('--tags-filter', '!timing');
}
env.NATIVE_ATTENTION_SANITIZED = '1';

const t = Date.now();
log(`vitest run ${vitestArgs.join(' ')}`);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const child = spawn(process.execPath, [vitest, 'run', ...vitestArgs], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
// Streamed as it comes (a full run takes minutes), and kept for the scan below.
let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
child.stderr.on('data', (chunk) => {
  output += chunk;
  process.stderr.write(chunk);
});
const [code, signal] = await new Promise((resolve) => child.on('close', (c, sig) => resolve([c, sig])));
// Reports the suite itself did not catch (a test's own child may trigger one on purpose,
// and then checks for it: those are in its captured output, not here).
const reports = output
  .split('\n')
  .filter((l) =>
    /ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer/.test(
      l,
    ),
  );
log(`vitest exited with ${code ?? signal} after ${seconds(t)} s (total ${seconds(started)} s)`);
if (reports.length) {
  console.error(`test-asan: ${reports.length} sanitizer report line(s):\n  ${reports.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}
if (code !== 0) process.exit(code ?? 1);
log('clean: no sanitizer reports, all tests passed');
