// Dynamic batching: requests wait in a bounded queue; a batch leaves when its token budget
// is full or when its oldest request has waited `windowMs`, whichever comes first, and at
// most `maxInFlight` batches compute at once. One forwardAsync per batch, then each
// request gets its own rows back.
//
// Why it pays: a request of 16–128 tokens is a small GEMM (M = T rows), far from the
// BLAS peak, and each call has a fixed cost (argument checks, a thread-pool hop, a
// promise). One call over ΣT rows runs the projections — most of the work — at a much
// better rate. The price is up to `windowMs` of added latency when traffic is light, and
// nothing when it is heavy: then a batch fills while the previous one computes.
import { detectPackedSequences, packInputs, padInputs, selectPacked, selectPadded, splitPacked, splitPadded } from './batch.mjs';

/** The queue is full: answer 503 with Retry-After. */
export class QueueFullError extends Error {
  constructor(size) {
    super(`the queue is full (${size} requests waiting); retry shortly`);
    this.name = 'QueueFullError';
  }
}

/** The server is draining for shutdown: answer 503. */
export class ShuttingDownError extends Error {
  constructor() {
    super('the server is shutting down');
    this.name = 'ShuttingDownError';
  }
}

export class Batcher {
  #pending = []; // { x, T, resolve, reject, since } in arrival order
  #pendingTokens = 0;
  #inFlight = 0;
  #timer = null;
  #closed = false;
  #idle = null; // resolves drain() once closed, empty and idle

  /**
   * layer: a MultiHeadAttention (forward, forwardAsync, embedDim, outputDim).
   * options: windowMs, tokenBudget, maxBatch, maxInFlight, queueSize, causal, padSlack,
   * batching ('auto' | 'padded'), onBatch({ requests, tokens, realTokens, seconds }).
   */
  constructor(layer, options) {
    this.layer = layer;
    this.windowMs = options.windowMs;
    this.tokenBudget = options.tokenBudget;
    this.maxBatch = options.maxBatch;
    this.maxInFlight = options.maxInFlight;
    this.queueSize = options.queueSize;
    this.causal = options.causal ?? false;
    this.padSlack = options.padSlack ?? 0.25;
    this.onBatch = options.onBatch ?? (() => {});
    const detected =
      options.batching === 'padded'
        ? { packed: false, reason: 'padded batches were asked for (--batching padded)' }
        : detectPackedSequences(layer, { causal: this.causal });
    this.mode = detected.packed ? 'packed' : 'padded';
    this.modeReason = detected.reason;
  }

  get queueDepth() {
    return this.#pending.length;
  }

  get queueTokens() {
    return this.#pendingTokens;
  }

  get inFlight() {
    return this.#inFlight;
  }

  /**
   * Queues x ([T, E] row-major) and resolves with its output rows ([T, outputDim]).
   * Throws QueueFullError or ShuttingDownError at once, so the caller can answer 503
   * without waiting.
   */
  submit(x, T) {
    if (this.#closed) throw new ShuttingDownError();
    if (this.#pending.length >= this.queueSize) throw new QueueFullError(this.queueSize);
    return new Promise((resolve, reject) => {
      this.#pending.push({ x, T, resolve, reject, since: performance.now() });
      this.#pendingTokens += T;
      this.#pump();
    });
  }

  /** Stops taking requests, sends what is queued without waiting for the window, resolves when all are answered. */
  drain() {
    this.#closed = true;
    if (!this.#idle) {
      let resolve;
      const promise = new Promise((r) => {
        resolve = r;
      });
      this.#idle = { promise, resolve };
    }
    this.#pump();
    return this.#idle.promise;
  }

  #ready() {
    if (this.#closed || this.#pendingTokens >= this.tokenBudget || this.#pending.length >= this.maxBatch) return true;
    return performance.now() - this.#pending[0].since >= this.windowMs;
  }

  #pump() {
    while (this.#inFlight < this.maxInFlight && this.#pending.length > 0) {
      if (!this.#ready()) {
        // Wake when the oldest request's window ends (or earlier, if the budget fills first).
        if (!this.#timer) {
          const wait = Math.max(0, this.windowMs - (performance.now() - this.#pending[0].since));
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.#pump();
          }, wait);
        }
        return;
      }
      this.#run(this.#take());
    }
    if (this.#timer && this.#pending.length === 0) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#closed && this.#pending.length === 0 && this.#inFlight === 0) this.#idle?.resolve();
  }

  #take() {
    const limits = { maxBatch: this.maxBatch, tokenBudget: this.tokenBudget, padSlack: this.padSlack };
    const picked = this.mode === 'packed' ? selectPacked(this.#pending, limits) : selectPadded(this.#pending, limits);
    const items = picked.map((i) => this.#pending[i]);
    if (picked.length === this.#pending.length) this.#pending = [];
    else {
      const taken = new Set(picked);
      this.#pending = this.#pending.filter((_, i) => !taken.has(i));
    }
    for (const it of items) this.#pendingTokens -= it.T;
    return items;
  }

  async #run(items) {
    this.#inFlight++;
    const started = performance.now();
    const E = this.layer.embedDim;
    const O = this.layer.outputDim;
    let realTokens = 0;
    for (const it of items) realTokens += it.T;
    try {
      let outputs;
      let tokens = realTokens;
      if (items.length === 1) {
        // Alone: the request's own array, no copy and no options (this is also the
        // "one forwardAsync per request" baseline, with maxBatch = 1).
        const y = await this.layer.forwardAsync({ data: items[0].x, shape: [items[0].T, E] }, null, null, this.#options({}));
        outputs = [y.data];
      } else if (this.mode === 'packed') {
        const batch = packInputs(items, E);
        const y = await this.layer.forwardAsync(batch.input, null, null, this.#options(batch.options));
        outputs = splitPacked(y, items, O);
      } else {
        const batch = padInputs(items, E);
        tokens = batch.tokens;
        const y = await this.layer.forwardAsync(batch.input, null, null, this.#options(batch.options));
        outputs = splitPadded(y, items, O);
      }
      this.onBatch({ requests: items.length, tokens, realTokens, seconds: (performance.now() - started) / 1000 });
      for (let i = 0; i < items.length; i++) items[i].resolve(outputs[i]);
    } catch (err) {
      for (const it of items) it.reject(err);
    } finally {
      this.#inFlight--;
      this.#pump();
    }
  }

  #options(base) {
    return this.causal ? { ...base, causal: true } : base;
  }
}
