#!/usr/bin/env node
// npm run lint: every linter and type check, in one place (CI runs it).
//   biome      TypeScript/JavaScript lint + format (biome.json)
//   tsc        the library with its tests (test/tsconfig.json)
//   consumer   a strict TypeScript consumer of the published types (self-reference)
//   publint    package.json exports, types and files
//   clang-format  native/ C++ formatting (.clang-format), when clang-format is installed
//   clang-tidy    the kernels and their tests (.clang-tidy), when clang-tidy is installed
//                 (the binding needs Node's headers: it is left to the compiler's warnings)
// `--fix` applies biome's and clang-format's fixes instead of checking.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');
const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);
let failed = 0;

function step(name, cmd, args) {
  const t = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const ok = r.status === 0;
  if (!ok) failed++;
  console.log(`lint: ${ok ? 'ok  ' : 'FAIL'} ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

step('biome', process.execPath, [bin('@biomejs/biome', 'bin/biome'), fix ? 'check' : 'ci', ...(fix ? ['--write'] : []), '.']);
step('tsc (lib + tests)', process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'test/tsconfig.json']);
if (fs.existsSync(path.join(root, 'dist', 'index.d.ts'))) {
  step('TypeScript consumer (published types)', process.execPath, [
    bin('typescript', 'bin/tsc'),
    '--noEmit',
    '--strict',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    'test/package/consumers/use.mts',
  ]);
} else {
  failed++;
  console.log('lint: FAIL TypeScript consumer: dist/ is not built (npm run build:ts)');
}
step('publint', process.execPath, [path.join(root, 'node_modules', 'publint', 'src', 'cli.js'), '--strict', root]);

const cpp = spawnSync('git', ['ls-files', 'native/*.h', 'native/*.cpp', 'native/*.inc'], { cwd: root, encoding: 'utf8' })
  .stdout.split('\n')
  .filter(Boolean);
if (spawnSync('clang-format', ['--version'], { stdio: 'ignore' }).status === 0) {
  step('clang-format', 'clang-format', fix ? ['-i', ...cpp] : ['--dry-run', '--Werror', ...cpp]);
} else {
  console.log('lint: skip clang-format: not installed (Debian: apt-get install clang-format)');
}
if (spawnSync('clang-tidy', ['--version'], { stdio: 'ignore' }).status === 0) {
  // A compile database for the kernels and their tests (plain cmake, no Node).
  const db = path.join(root, 'build-tidy');
  const configured = spawnSync(
    'cmake',
    ['-S', root, '-B', db, '-DNATIVE_ATTENTION_TESTS=ON', '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON', '-DCMAKE_BUILD_TYPE=Release'],
    { stdio: 'ignore' },
  );
  const sources = cpp.filter((f) => /^native\/(kernels|tests)\/.*\.cpp$/.test(f));
  if (configured.status === 0) step('clang-tidy', 'clang-tidy', ['-p', db, '--quiet', ...sources]);
  else {
    failed++;
    console.log('lint: FAIL clang-tidy: cmake could not configure build-tidy/');
  }
} else {
  console.log('lint: skip clang-tidy: not installed (Debian: apt-get install clang-tidy)');
}
process.exit(failed ? 1 : 0);
