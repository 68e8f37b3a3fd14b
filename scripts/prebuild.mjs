#!/usr/bin/env node
// Makes the self-contained prebuilt binary shipped in the npm package:
//   prebuilds/<platform>-<arch>/native-attention.napi[.glibc].node
// named as prebuildify does, so node-gyp-build's loader (and ours) find it. OpenBLAS is
// linked statically (only what sgemm needs), the result is stripped, and its dynamic
// dependencies are checked: nothing but the base C/C++ runtime.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDependencies } from './check-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(process.execPath, ['scripts/build-native.mjs', '--static-blas', '--out', 'build-prebuild']);
const built = path.join(root, 'build-prebuild', 'Release', 'native_attention.node');
const libc = process.platform === 'linux' ? '.glibc' : '';
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const target = path.join(dir, `native-attention.napi${libc}.node`);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(built, target);
run('strip', process.platform === 'darwin' ? ['-x', target] : ['--strip-unneeded', target]);

const problems = checkDependencies(target);
if (problems.length) {
  console.error(`prebuild: ${path.relative(root, target)} depends on libraries users may not have:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const mb = (fs.statSync(target).size / 2 ** 20).toFixed(1);
console.log(`prebuild: wrote ${path.relative(root, target)} (${mb} MiB, self-contained)`);
