// The HTTP service: POST /attention runs the layer over one sequence, batched with the
// requests that arrive alongside it; GET /healthz and GET /metrics for the platform.
// node:http only: the service has three routes and no use for a framework.
import http from 'node:http';
import { Batcher, QueueFullError, ShuttingDownError } from './batcher.mjs';
import { CONTENT_TYPE, Counter, Gauge, Histogram, Registry, Summary } from './metrics.mjs';
import { binaryShape, HttpError, inputFormat, parseBinary, parseJson, readBody } from './request.mjs';

const POWERS_OF_TWO = (from, to) => Array.from({ length: Math.log2(to / from) + 1 }, (_, i) => from * 2 ** i);

function serverMetrics(batcher, state) {
  const registry = new Registry();
  const m = {
    registry,
    requests: registry.add(new Counter('attention_http_requests_total', 'HTTP requests answered, by route and status code.')),
    latency: registry.add(
      new Summary(
        'attention_request_duration_seconds',
        'Time from the request to its response, POST /attention answered 200; quantiles over the last 2048 such requests.',
      ),
    ),
    batchRequests: registry.add(
      new Histogram('attention_batch_requests', 'Requests per batch (one forwardAsync call each).', POWERS_OF_TWO(1, 256)),
    ),
    batchTokens: registry.add(
      new Histogram(
        'attention_batch_tokens',
        'Tokens computed per batch, padding included (B·Tmax when padded, ΣT when packed).',
        POWERS_OF_TWO(16, 16384),
      ),
    ),
    paddingTokens: registry.add(
      new Counter('attention_padding_tokens_total', 'Padded query rows computed and discarded (padded batches only).'),
    ),
    batchSeconds: registry.add(
      new Summary('attention_batch_duration_seconds', 'Compute time of one batch; quantiles over the last 2048 batches.'),
    ),
  };
  registry.add(new Gauge('attention_queue_depth', 'Requests waiting for a batch.', () => batcher.queueDepth));
  registry.add(new Gauge('attention_queue_tokens', 'Tokens of the requests waiting for a batch.', () => batcher.queueTokens));
  registry.add(new Gauge('attention_batches_in_flight', 'Batches computing now.', () => batcher.inFlight));
  registry.add(new Gauge('attention_draining', '1 while the server drains for shutdown.', () => (state.draining ? 1 : 0)));
  registry.add(
    new Gauge('attention_batching_info', 'How batches are laid out (packed or padded), and why.', () => 1, {
      mode: batcher.mode,
      reason: batcher.modeReason,
    }),
  );
  return m;
}

/**
 * Creates the service around `layer` (not listening yet). config: the settings of
 * config.mjs (maxTokens, maxBodyBytes, batchWindowMs, batchTokens, maxBatch,
 * maxInFlight, queueSize, causal, batching, padSlack, shutdownTimeoutMs).
 * Returns { server, batcher, metrics, listen(port, host), shutdown() }.
 */
export function createServer(layer, config) {
  const E = layer.embedDim;
  const O = layer.outputDim;
  const maxBodyBytes = config.maxBodyBytes || config.maxTokens * E * 24 + 1024;
  const state = { draining: false };
  let metrics;
  const batcher = new Batcher(layer, {
    windowMs: config.batchWindowMs,
    tokenBudget: config.batchTokens,
    maxBatch: config.maxBatch,
    maxInFlight: config.maxInFlight,
    queueSize: config.queueSize,
    causal: config.causal,
    batching: config.batching,
    padSlack: config.padSlack,
    onBatch: ({ requests, tokens, realTokens, seconds }) => {
      metrics.batchRequests.observe(requests);
      metrics.batchTokens.observe(tokens);
      if (tokens > realTokens) metrics.paddingTokens.inc({}, tokens - realTokens);
      metrics.batchSeconds.observe(seconds);
    },
  });
  metrics = serverMetrics(batcher, state);

  function send(res, route, status, body, headers = {}) {
    metrics.requests.inc({ route, code: status });
    // While draining, every response closes its connection: keep-alive clients reconnect
    // to another replica instead of sending more here.
    if (state.draining) headers.connection = 'close';
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  function sendError(res, route, err) {
    let status = 500;
    let headers = {};
    let message = 'internal error';
    if (err instanceof HttpError) ({ status, headers, message } = err);
    else if (err instanceof QueueFullError) [status, headers, message] = [503, { 'retry-after': '1' }, err.message];
    else if (err instanceof ShuttingDownError) [status, headers, message] = [503, { 'retry-after': '1' }, err.message];
    else if (err?.code === 'ECONNRESET') [status, message] = [400, 'the client closed the connection mid-request'];
    else console.error('attention server:', err);
    // The body of a 413 was not read: close rather than drain it.
    if (status === 413) headers = { ...headers, connection: 'close' };
    send(res, route, status, JSON.stringify({ error: message }), { 'content-type': 'application/json', ...headers });
  }

  async function attention(req, res) {
    const started = performance.now();
    const format = inputFormat(req.headers['content-type']);
    // Refuse before reading (or queueing) anything when there is no room: the cheapest 503.
    if (state.draining) throw new ShuttingDownError();
    if (batcher.queueDepth >= batcher.queueSize) throw new QueueFullError(batcher.queueSize);
    let x;
    let T;
    if (format === 'binary') {
      T = binaryShape(req.headers['x-shape'], E, config.maxTokens);
      const bytes = T * E * 4;
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) !== bytes) {
        throw new HttpError(400, `body: expected ${bytes} bytes (${T}·${E} float32), content-length says ${declared}`);
      }
      x = parseBinary(await readBody(req, bytes), T, E);
    } else {
      ({ x, T } = parseJson(await readBody(req, maxBodyBytes), E, config.maxTokens));
    }
    const y = await batcher.submit(x, T);
    if (format === 'binary') {
      send(res, 'attention', 200, Buffer.from(y.buffer, y.byteOffset, y.byteLength), {
        'content-type': 'application/octet-stream',
        'x-shape': `${T},${O}`,
      });
    } else {
      const rows = new Array(T);
      for (let t = 0; t < T; t++) rows[t] = Array.from(y.subarray(t * O, (t + 1) * O));
      send(res, 'attention', 200, JSON.stringify({ shape: [T, O], y: rows }), { 'content-type': 'application/json' });
    }
    metrics.latency.observe((performance.now() - started) / 1000);
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = { '/attention': 'attention', '/healthz': 'healthz', '/metrics': 'metrics' }[path] ?? 'other';
    const allowed = route === 'attention' ? 'POST' : 'GET, HEAD';
    if (route === 'other')
      return sendError(res, route, new HttpError(404, `no route ${path}: POST /attention, GET /healthz, GET /metrics`));
    if (!allowed.split(', ').includes(req.method)) {
      return sendError(res, route, new HttpError(405, `${req.method} ${path}: expected ${allowed}`, { allow: allowed }));
    }
    if (route === 'healthz') {
      // 503 while draining, so a load balancer stops sending here before the port closes.
      const body = JSON.stringify({ status: state.draining ? 'draining' : 'ok', batching: batcher.mode });
      return send(res, route, state.draining ? 503 : 200, body, { 'content-type': 'application/json' });
    }
    if (route === 'metrics') return send(res, route, 200, metrics.registry.render(), { 'content-type': CONTENT_TYPE });
    attention(req, res).catch((err) => sendError(res, route, err));
  });
  // Behind a load balancer, idle keep-alive sockets must outlive the balancer's own idle
  // timeout (often 60 s), or it may send a request on a socket we just closed (a 502).
  // Node's default is 5 s.
  server.keepAliveTimeout = 65_000;

  function listen(port, host) {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address());
      });
    });
  }

  let closing = null;
  /**
   * Graceful shutdown: stop accepting connections, answer what is queued and computing,
   * then close. Past shutdownTimeoutMs the remaining connections are cut. Resolves true
   * when everything drained in time, false when connections had to be cut.
   */
  function shutdown() {
    if (closing) return closing;
    state.draining = true;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    const drained = batcher.drain().then(() => {
      // Every queued request is answered (with Connection: close); what is left open is
      // idle keep-alive sockets, or a client still uploading, who will get a 503.
      server.closeIdleConnections();
      return closed;
    });
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => {
        server.closeAllConnections();
        resolve(false);
      }, config.shutdownTimeoutMs ?? 10000);
    });
    closing = Promise.race([drained.then(() => true), timeout]).finally(() => clearTimeout(timer));
    return closing;
  }

  return { server, batcher, metrics, listen, shutdown };
}
