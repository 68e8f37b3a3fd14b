#!/usr/bin/env node
// `npm run bench [-- flags]`: installs the benchmark's own dependencies on first use
// (bench/ is a private package, so peers never leak into this one), sets up tfjs-node from
// pip's tensorflow-cpu wheel when it can (bench/scripts/setup-tfjs-node.mjs; a skipped set-up
// leaves tfjs-node's rows saying why), then runs it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
const npm = (args) => spawnSync('npm', args, { cwd: bench, stdio: 'inherit', env });
if (!fs.existsSync(path.join(bench, 'node_modules', 'onnxruntime-node'))) {
  console.error('bench: installing the benchmark dependencies (once)');
  const r = npm(['ci', '--no-audit', '--no-fund']);
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const args = process.argv.slice(2);
if (!args.includes('--no-tfjs-node-setup') && !args.includes('-h') && !args.includes('--help')) {
  // idempotent: well under a second once done; exit 2 = skipped (the reason is printed and kept)
  spawnSync(process.execPath, ['scripts/setup-tfjs-node.mjs'], { cwd: bench, stdio: 'inherit', env });
}
const r = spawnSync(process.execPath, ['bench.mjs', ...args.filter((a) => a !== '--no-tfjs-node-setup')], {
  cwd: bench,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
