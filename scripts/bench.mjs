#!/usr/bin/env node
// `npm run bench [-- flags]`: installs the benchmark's own dependencies on first use
// (bench/ is a private package, so peers never leak into this one), then runs it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const npm = (args) =>
  spawnSync('npm', args, { cwd: bench, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
if (!fs.existsSync(path.join(bench, 'node_modules', 'onnxruntime-node'))) {
  console.error('bench: installing the benchmark dependencies (once)');
  const r = npm(['ci', '--no-audit', '--no-fund']);
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const r = spawnSync(process.execPath, ['bench.mjs', ...process.argv.slice(2)], { cwd: bench, stdio: 'inherit' });
process.exit(r.status ?? 1);
