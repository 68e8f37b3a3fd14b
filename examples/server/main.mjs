// Starts the example service: `npm run example:server` (settings: --help, or config.mjs).
import { getNumThreads, setNumThreads } from '../../dist/index.js';
import { loadConfig, usage } from './config.mjs';
import { cpuQuota } from './cpu-quota.mjs';
import { createServer } from './server.mjs';
import { loadLayer } from './weights.mjs';

if (process.argv.includes('--help')) {
  process.stdout.write(usage());
  process.exit(0);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`attention server: ${err.message}`);
  process.exit(2);
}

// Before any call: the compute pool is sized once per process.
setNumThreads(config.threads);
const { layer, file, created } = loadLayer(config);
const app = createServer(layer, config);
const address = await app.listen(config.port, config.host);
const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

// The line the load test waits for: keep its form.
console.log(`attention server listening on http://${host}:${address.port}`);
console.log(
  JSON.stringify({
    ...config,
    weights: `${file}${created ? ' (demo layer written now)' : ''}`,
    layer: { embedDim: layer.embedDim, numHeads: layer.numHeads, outputDim: layer.outputDim },
    batching: { asked: config.batching, mode: app.batcher.mode, why: app.batcher.modeReason },
    threads: getNumThreads(),
    cpuQuota: cpuQuota(),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
  }),
);

let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    // A second signal means "now": skip the drain.
    if (++signals > 1) process.exit(1);
    console.log(
      `attention server: ${signal}, draining (${app.batcher.queueDepth} queued, ${app.batcher.inFlight} batches computing)`,
    );
    app.shutdown().then((clean) => {
      console.log(`attention server: ${clean ? 'drained' : 'drain timed out, connections cut'}; exiting`);
      process.exit(clean ? 0 : 1);
    });
  });
}
