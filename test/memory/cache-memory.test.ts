// Caches made and dropped: their memory goes back to the OS. A cache is mapped from the OS
// (kv_cache.cpp); from calloc, caches below glibc's moving mmap threshold came from the
// heap, were zeroed page by page and kept their pages after free: 4 rounds of 3,600
// dropped 128 KiB caches took RSS from 51 to ~500 MiB and kept it there. Measured in a
// child process of its own (RSS is the process's), on the compiled package (dist/).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const DIST = process.env.NATIVE_ATTENTION_DIST ?? path.resolve(__dirname, '..', '..', 'dist');
const UNDER_ASAN = /libasan/.test(process.env.LD_PRELOAD ?? ''); // freed memory sits in quarantine

const CHILD = `
const { MultiHeadAttention } = require(${JSON.stringify(DIST)});
const layer = new MultiHeadAttention({ embedDim: 64, numHeads: 4, numKvHeads: 2, seed: 1 });
const x = { data: new Float32Array(2 * 64).fill(0.5), shape: [2, 1, 64] };
(async () => {
  const rss = [];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 3600; i++) {
      const cache = layer.createCache({ batch: 2, maxLength: 256 }); // 128 KiB of keys and values
      if (i % 8 === 0) layer.forward(x, null, null, { cache }); // some are written to
    }
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
    global.gc();
    rss.push(process.memoryUsage().rss / 2 ** 20);
  }
  console.log(JSON.stringify(rss));
})();
`;

it.skipIf(UNDER_ASAN)('14,400 caches of 128 KiB made and dropped: RSS grows by less than 64 MiB', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const rss = JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
  console.log(`RSS after each round of 3,600 caches (MiB): ${rss.map((v) => v.toFixed(0)).join(', ')}`);
  expect(rss[3]! - rss[0]!).toBeLessThan(64);
  expect(rss[3]!).toBeLessThan(200); // all 14,400 held at once would be 1.8 GiB
});
