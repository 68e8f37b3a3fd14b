#!/usr/bin/env node
// One-time set-up of a fresh clone, doing only what is missing:
//   1. the system build tools: cmake, a C++17 compiler, OpenBLAS (apt-get when run as
//      root or with password-less sudo; otherwise prints the exact command),
//   2. npm dependencies (npm ci), which also builds the addon and the TypeScript,
//   3. the build, if dependencies were there but the build is not.
// Uses only Node built-ins, so it runs before `npm ci`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => console.log(`setup: ${msg}`);
const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const run = (cmd, args, what) => {
  say(what);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    console.error(`setup: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
};

function hasOpenBlas() {
  if (ok('pkg-config', ['--exists', 'openblas'])) return true;
  const dirs = ['/usr/include', '/usr/local/include', '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include'];
  return dirs.some((d) => fs.existsSync(path.join(d, 'cblas.h')) || fs.existsSync(path.join(d, 'openblas', 'cblas.h')));
}

function systemDependencies() {
  const missing = [];
  if (!ok('cmake', ['--version'])) missing.push('cmake');
  if (!ok('c++', ['--version'])) missing.push('g++');
  if (!hasOpenBlas()) missing.push('libopenblas-dev', 'pkg-config');
  if (!missing.length) return;
  if (process.platform === 'darwin') {
    console.error('setup: missing build tools. Run:\n  xcode-select --install; brew install cmake openblas');
    process.exit(1);
  }
  const apt = ['install', '-y', '--no-install-recommends', ...missing];
  const isRoot = process.getuid?.() === 0;
  if (ok('apt-get', ['--version']) && (isRoot || ok('sudo', ['-n', 'true']))) {
    const prefix = isRoot ? [] : ['sudo', '-n'];
    const [cmd, ...pre] = prefix.length ? prefix : ['apt-get'];
    const full = (args) => (prefix.length ? [...pre, 'apt-get', ...args] : args);
    run(cmd, full(['update', '-qq']), 'apt-get update');
    run(cmd, full(apt), `installing ${missing.join(', ')} with apt-get`);
    return;
  }
  console.error(
    `setup: missing ${missing.join(', ')}. Install them, then run this again:\n  sudo apt-get install -y ${missing.join(' ')}`,
  );
  process.exit(1);
}

systemDependencies();
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (!fs.existsSync(installed) || fs.statSync(installed).mtimeMs < fs.statSync(lock).mtimeMs) {
  run('npm', ['ci', '--no-audit', '--no-fund'], 'installing npm dependencies and building (npm ci)');
} else if (
  !fs.existsSync(path.join(root, 'build', 'Release', 'native_attention.node')) ||
  !fs.existsSync(path.join(root, 'dist', 'index.js'))
) {
  run('npm', ['run', 'compile', '--silent'], 'building the addon and the TypeScript');
}
say('ready');
