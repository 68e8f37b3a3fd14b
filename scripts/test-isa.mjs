#!/usr/bin/env node
// Runs the numerical and fuzz suites once per instruction-set path this CPU and build
// can run (cpuInfo().available), forcing each with NATIVE_ATTENTION_ISA; `npm test` runs
// them on the default (widest) path.
//   node scripts/test-isa.mjs [vitest files...]   (default: test/numerical test/fuzz)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = process.argv.slice(2).length ? process.argv.slice(2) : ['test/numerical', 'test/fuzz'];
const env = { ...process.env, NATIVE_ATTENTION_FROM_SOURCE: '1' };
const probe = spawnSync(process.execPath, ['-e', "process.stdout.write(JSON.stringify(require('./dist').cpuInfo()))"], {
  cwd: root,
  env,
  encoding: 'utf8',
});
if (probe.status !== 0) {
  console.error(`test:isa: cannot load the package (npm run compile first):\n${probe.stderr}`);
  process.exit(1);
}
const info = JSON.parse(probe.stdout);
console.log(`test:isa: default path ${info.isa}; running ${files.join(' ')} on ${info.available.join(', ')}`);
let failed = 0;
for (const isa of info.available) {
  const t = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files], {
    cwd: root,
    env: { ...env, NATIVE_ATTENTION_ISA: isa },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  console.log(`test:isa: ${isa}: ${r.status === 0 ? 'passed' : 'FAILED'} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
