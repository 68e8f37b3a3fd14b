#!/usr/bin/env node
// Builds the addon from source with cmake-js: build/Release/native_attention.node.
//   node scripts/build-native.mjs [--debug] [--static-blas] [--sanitize] [--out DIR]
// Missing tools get one clear message instead of a wall of CMake output.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : 'build';

for (const [tool, probe] of [['cmake', ['--version']], ['c++', ['--version']]]) {
  if (spawnSync(tool, probe, { stdio: 'ignore' }).status !== 0) {
    console.error(`native-attention: building from source needs ${tool}.\n` +
      '  Debian/Ubuntu: sudo apt-get install cmake g++ libopenblas-dev\n' +
      '  macOS:         brew install cmake openblas (and the Xcode command line tools)');
    process.exit(1);
  }
}

const require = createRequire(import.meta.url);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('native-attention: cmake-js is not installed; run `npm install` in the package first.');
  process.exit(1);
}
const cmakeArgs = [cmakeJs, 'compile', '--directory', root, '--out', out, '--log-level', 'warn'];
if (flag('--debug')) cmakeArgs.push('--debug');
if (flag('--static-blas')) cmakeArgs.push('--CDNATIVE_ATTENTION_STATIC_BLAS=ON');
cmakeArgs.push(`--CDNATIVE_ATTENTION_SANITIZE=${flag('--sanitize') ? 'ON' : 'OFF'}`);
const r = spawnSync(process.execPath, cmakeArgs, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
