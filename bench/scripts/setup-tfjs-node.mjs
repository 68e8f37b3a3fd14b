#!/usr/bin/env node
// Sets up @tensorflow/tfjs-node 4.22 on libtensorflow 2.21 without its installer's download:
// the TensorFlow C/C++ libraries and C API headers come from pip's `tensorflow-cpu` wheel.
//
//   node scripts/setup-tfjs-node.mjs          (or `npm run bench:setup-tfjs-node` from the root)
//
// Idempotent: does nothing when tfjs-node already loads on the 'tensorflow' backend. Exit 0 when
// set up, 2 when it cannot be (the reason on stderr and in the status file), 1 on other errors.
// Nothing lands in the repository: tfjs-node is installed with --no-save into bench/node_modules
// (ignored), the wheel is cached in $BENCH_CACHE_DIR (default ~/.cache/native-attention-bench).
//
// Steps (tfjs-node's own installer would download libtensorflow 2.9.1 from outside the npm
// registry, so it runs with --ignore-scripts and is given what it needs instead):
//  1. npm install --no-save --ignore-scripts @tensorflow/tfjs-node@4.22.0
//  2. pip download --no-deps tensorflow-cpu==2.21.0 (into the cache), unless cached
//  3. from the wheel: libtensorflow_cc.so.2 and libtensorflow_framework.so.2 → deps/lib/;
//     tensorflow/c/**, tensorflow/core/platform/ctstring*.h, tsl/platform/ctstring*.h and
//     xla/tsl/c/*.h → deps/include/; libtensorflow.so and libtensorflow.so.2.9.1 → the _cc
//     library, libtensorflow_framework.so → the framework library (its install script skips
//     the download when libtensorflow.so.2.9.1 exists)
//  4. npm rebuild @tensorflow/tfjs-node --build-from-source (node-gyp against Node's own headers)
//  5. check: a child process loads it, the backend is 'tensorflow', TF's version is printed
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TFJS_NODE = '4.22.0';
const TF_WHEEL = 'tensorflow-cpu';
const TF_VERSION = '2.21.0';
const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = path.join(BENCH, 'node_modules', '@tensorflow', 'tfjs-node');
const CACHE =
  process.env.BENCH_CACHE_DIR ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'native-attention-bench');
export const STATUS_FILE = path.join(BENCH, 'node_modules', '.tfjs-node-setup.json');
const quiet = process.argv.includes('--quiet');

const log = (m) => {
  if (!quiet) console.error(`setup-tfjs-node: ${m}`);
};
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ok: r.status === 0, stdout: r.stdout ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}
function finish(ok, message, extra = {}) {
  fs.mkdirSync(path.dirname(STATUS_FILE), { recursive: true });
  fs.writeFileSync(STATUS_FILE, `${JSON.stringify({ ok, message, date: new Date().toISOString(), ...extra }, null, 2)}\n`);
  if (ok) log(message);
  else console.error(`setup-tfjs-node: skipped — ${message}`);
  process.exit(ok ? 0 : 2);
}
const lastLines = (s, n = 3) => s.trim().split('\n').slice(-n).join(' | ');

// 5. (also the idempotence test) load it in a child process
function probe() {
  const code = `const tf = require('@tensorflow/tfjs-node');
    const b = tf.backend(); const v = b.binding?.TF_Version ?? '?';
    console.log(JSON.stringify({ backend: tf.getBackend(), tf: v, tfjsNode: tf.version['tfjs-node'] }));`;
  const r = run(process.execPath, ['-e', code], { cwd: BENCH, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (!r.ok) return { ok: false, why: lastLines(r.out, 2) };
  try {
    const info = JSON.parse(r.stdout.trim().split('\n').pop());
    return { ok: info.backend === 'tensorflow', info, why: `backend is ${info.backend}` };
  } catch {
    return { ok: false, why: lastLines(r.out, 2) };
  }
}

const ready = fs.existsSync(path.join(PKG, 'package.json')) && probe();
if (ready?.ok) finish(true, `ready (tfjs-node ${ready.info.tfjsNode}, TensorFlow ${ready.info.tf})`, ready.info);

// 1. the package, without its install script
const pkgVersion = () => {
  try {
    return JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
};
if (pkgVersion() !== TFJS_NODE) {
  log(`npm install --no-save --ignore-scripts @tensorflow/tfjs-node@${TFJS_NODE}`);
  const r = run(
    'npm',
    ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `@tensorflow/tfjs-node@${TFJS_NODE}`],
    { cwd: BENCH, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } },
  );
  if (!r.ok) finish(false, `npm could not install @tensorflow/tfjs-node@${TFJS_NODE}: ${lastLines(r.out)}`);
}

// 2. the wheel
const lib = path.join(PKG, 'deps', 'lib');
const inc = path.join(PKG, 'deps', 'include');
if (!fs.existsSync(path.join(lib, 'libtensorflow_cc.so.2')) || !fs.existsSync(path.join(inc, 'tensorflow', 'c', 'c_api.h'))) {
  fs.mkdirSync(CACHE, { recursive: true });
  const findWheel = () =>
    fs.readdirSync(CACHE).find((f) => f.startsWith(`${TF_WHEEL.replace('-', '_')}-${TF_VERSION}-`) && f.endsWith('.whl'));
  let wheel = findWheel();
  if (!wheel) {
    const pip = ['pip', 'pip3'].find((p) => run(p, ['--version']).ok);
    if (!pip) finish(false, `pip is not installed, so the ${TF_WHEEL} ${TF_VERSION} wheel (libtensorflow) cannot be fetched`);
    log(`${pip} download --no-deps ${TF_WHEEL}==${TF_VERSION} (~270 MB, cached in ${CACHE})`);
    const r = run(pip, ['download', '--no-deps', '--only-binary=:all:', `${TF_WHEEL}==${TF_VERSION}`, '-d', CACHE]);
    wheel = findWheel();
    if (!r.ok || !wheel) finish(false, `pip could not download the ${TF_WHEEL} ${TF_VERSION} wheel: ${lastLines(r.out, 2)}`);
  }
  // 3. extract what tfjs-node needs (Python's zipfile: pip implies Python)
  log(`extracting libtensorflow and the C API headers from ${wheel}`);
  const py = `
import sys, zipfile, os, re, shutil
whl, lib, inc = sys.argv[1:4]
pre = 'tensorflow/include/'
keep = re.compile(r'^(tensorflow/c/.*\\.h|tensorflow/core/platform/ctstring[^/]*\\.h|tsl/platform/ctstring[^/]*\\.h|xla/tsl/c/[^/]*\\.h)$')
os.makedirs(lib, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'):
            dst = os.path.join(lib, os.path.basename(n))
        elif n.startswith(pre) and keep.match(n[len(pre):]):
            dst = os.path.join(inc, n[len(pre):])
        else:
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(n) as src, open(dst + '.part', 'wb') as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(dst + '.part', dst)
`;
  const python = ['python3', 'python'].find((p) => run(p, ['--version']).ok);
  if (!python) finish(false, 'Python is needed to unpack the wheel and was not found');
  const r = run(python, ['-c', py, path.join(CACHE, wheel), lib, inc]);
  if (!r.ok) finish(false, `could not unpack ${wheel}: ${lastLines(r.out)}`);
}
for (const [name, target] of [
  ['libtensorflow.so', 'libtensorflow_cc.so.2'],
  ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
  ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
]) {
  const p = path.join(lib, name);
  try {
    if (fs.readlinkSync(p) === target) continue;
  } catch {}
  fs.rmSync(p, { force: true });
  fs.symlinkSync(target, p);
}

// 4. the addon, built against Node's own headers when they are installed system-wide
log('npm rebuild @tensorflow/tfjs-node --build-from-source (node-gyp, a minute or two)');
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
const sysHeaders = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(sysHeaders, 'include', 'node', 'node_api.h')))
  env.npm_config_nodedir = sysHeaders;
const rb = run('npm', ['rebuild', '@tensorflow/tfjs-node', '--build-from-source'], { cwd: BENCH, env });
if (!rb.ok) finish(false, `building the tfjs-node addon failed: ${lastLines(rb.out)}`);

const after = probe();
if (!after.ok) finish(false, `tfjs-node was built but does not load: ${after.why}`);
finish(true, `ready (tfjs-node ${after.info.tfjsNode}, TensorFlow ${after.info.tf})`, after.info);
