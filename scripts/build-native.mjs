#!/usr/bin/env node
// Builds the addon from source with cmake-js: build/Release/native_attention.node.
//   node scripts/build-native.mjs [--debug] [--static-blas] [--sanitize] [--out DIR] [--install-tools]
//                                 [--define NAME=VALUE ...]   (tuning A/B builds: see bench/native/ab.mjs)
//                                 [--arch ARCH --toolchain FILE]   (cross builds: scripts/prebuild.mjs)
// Missing tools get one clear message instead of a wall of CMake output.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const out = option('--out') ?? 'build';
const arch = option('--arch');
// A CMake toolchain file names the cross compiler; the caller checks that it exists.
const toolchain = option('--toolchain');

for (const [tool, probe] of [['cmake', ['--version']], ...(toolchain ? [] : [['c++', ['--version']]])]) {
  if (spawnSync(tool, probe, { stdio: 'ignore' }).status !== 0) {
    console.error(
      `native-attention: building from source needs ${tool}.\n` +
        '  Debian/Ubuntu: sudo apt-get install cmake g++ libopenblas-dev\n' +
        '  macOS:         brew install cmake openblas (and the Xcode command line tools)',
    );
    process.exit(1);
  }
}

// cmake-js and node-addon-api are devDependencies: present in a clone after `npm ci`.
// In an installed package (no devDependencies), --install-tools fetches them into a
// private folder first, leaving the user's project untouched.
function resolveTools(from) {
  const require = createRequire(path.join(from, 'package.json'));
  try {
    return {
      cmakeJs: require.resolve('cmake-js/bin/cmake-js'),
      addonApi: path.dirname(require.resolve('node-addon-api/napi.h')),
    };
  } catch {
    return null;
  }
}
let tools = resolveTools(root);
if (!tools && flag('--install-tools')) {
  const dir = path.join(root, '.build-tools');
  tools = resolveTools(dir);
  if (!tools) {
    console.log('native-attention: installing the build tools (cmake-js, node-addon-api) into .build-tools/');
    const r = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        'cmake-js@8',
        'node-addon-api@8',
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) process.exit(r.status ?? 1);
    tools = resolveTools(dir);
  }
}
if (!tools) {
  console.error(
    'native-attention: cmake-js and node-addon-api are missing: run `npm install` (in a clone) or ' +
      '`npm run build:from-source` (in an installed package).',
  );
  process.exit(1);
}
const cmakeArgs = [tools.cmakeJs, 'compile', '--directory', root, '--out', out, '--log-level', 'warn'];
if (flag('--debug')) cmakeArgs.push('--debug');
if (arch) cmakeArgs.push('--arch', arch);
if (toolchain) cmakeArgs.push(`--CDCMAKE_TOOLCHAIN_FILE=${path.resolve(root, toolchain)}`);
cmakeArgs.push(`--CDNODE_ADDON_API_INC=${tools.addonApi}`);
if (flag('--static-blas')) cmakeArgs.push('--CDNATIVE_ATTENTION_STATIC_BLAS=ON');
cmakeArgs.push(`--CDNATIVE_ATTENTION_SANITIZE=${flag('--sanitize') ? 'ON' : 'OFF'}`);
const defines = args.flatMap((a, i) => (a === '--define' && args[i + 1] ? [args[i + 1]] : []));
cmakeArgs.push(`--CDNATIVE_ATTENTION_DEFINES=${defines.join(';')}`);
const r = spawnSync(process.execPath, cmakeArgs, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
