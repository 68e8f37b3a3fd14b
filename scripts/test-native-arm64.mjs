#!/usr/bin/env node
// The native kernel tests (ctest) cross-built for linux-arm64 and run under qemu, with
// OpenBLAS linked statically and the C/C++ runtime of the emulated Node's sysroot
// (scripts/arm64-node.mjs): the same tests as `npm run test:native`, on arm64 code.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CROSS, missingCrossTools } from './cross.mjs';
import { prepareArm64Node } from './arm64-node.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

let env;
try {
  const missing = missingCrossTools('arm64');
  if (missing.length) throw new Error(`missing ${missing.join(', ')}\n  install: ${CROSS.arm64.install}`);
  env = prepareArm64Node();
} catch (err) {
  console.error(`test:native:arm64: ${err.message}`);
  process.exit(1);
}
const build = 'build-native-tests-arm64';
run('cmake', [
  '-S',
  '.',
  '-B',
  build,
  '--log-level=WARNING',
  `-DCMAKE_TOOLCHAIN_FILE=${path.join(root, CROSS.arm64.toolchain)}`,
  '-DNATIVE_ATTENTION_TESTS=ON',
  '-DNATIVE_ATTENTION_STATIC_BLAS=ON',
  '-DCMAKE_BUILD_TYPE=Release',
  `-DCMAKE_CROSSCOMPILING_EMULATOR=${env.qemu};-L;${env.sysroot}`,
]);
run('cmake', ['--build', build]);
run('ctest', ['--test-dir', build, '--output-on-failure']);
