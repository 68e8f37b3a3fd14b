// Runs once before any test file: brings the addon (build/Release) and the compiled
// package (dist/) up to date with the sources, so that the tests that load dist/ in
// child processes and worker threads run the same code as the tests that import lib/.
// Both steps are incremental: about a second when nothing changed.
// Skipped when NATIVE_ATTENTION_BINARY names a binary (scripts/test-asan.mjs builds
// its own addon and dist/).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

function run(what: string, args: string[]): void {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`global setup: ${what} failed (exit ${r.status ?? r.signal})`);
}

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(ext)) {
      newest = Math.max(newest, fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
  }
  return newest;
}

export default function setup(): void {
  if (process.env.NATIVE_ATTENTION_BINARY) return;
  run('building the addon', [path.join(root, 'scripts', 'build-native.mjs')]);
  const dist = path.join(root, 'dist');
  const sources = Math.max(newestMtime(path.join(root, 'lib'), '.ts'), fs.statSync(path.join(root, 'binding.d.ts')).mtimeMs);
  if (!fs.existsSync(path.join(dist, 'index.js')) || newestMtime(dist, '.js') < sources) {
    run('compiling lib/ into dist/', [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(root, 'tsconfig.json'),
    ]);
  }
}
