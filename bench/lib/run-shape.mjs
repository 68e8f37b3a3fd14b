// One shape at one thread count: prepare every peer, check its output, warm up, then time the
// peers round-robin until the budget or the rep limits are reached.
import { SHAPES, flops, decodeBytes } from './shapes.mjs';
import { makeCase, completeCase } from './data.mjs';
import { referenceForward, referenceServer, pickRows, relError } from './reference.mjs';
import { median, sleep } from './stats.mjs';
import { shortErr } from './format.mjs';

export const CHECK_TOL = 1e-4;
const REF64_MAX_GFLOP = 2; // float64 JS reference only for small shapes
// reference preference when there is no float64 reference
const CHECK_ORDER = ['ours', 'ort-plain', 'ort-mha', 'tfjs-node', 'wasm', 'cpu'];

// ctx: { peers, peerInfo, opts, progress, refCache }. Returns one result row per peer.
// A peer may declare applies(shape) (false: no row, e.g. a graph that has no decode step) and
// notBuilt(shape) (a reason: a "not built yet" row, not timed). Server cases (shape.kind) are
// always checked against the float64 reference, on a subset of output rows (lib/reference.mjs).
export async function benchShape(ctx, shapeName, threads, reuse) {
  const { peers, peerInfo, opts, progress, refCache } = ctx;
  const shape = SHAPES[shapeName];
  const gflop = flops(shape) / 1e9;
  ctx.caseCache ??= new Map();
  if (!ctx.caseCache.has(shapeName)) {
    progress(`${threads}t ${shapeName}: inputs`);
    ctx.caseCache.clear(); // one case in memory at a time (D8's context is 64 MB)
    ctx.caseCache.set(shapeName, await completeCase(makeCase(shape)));
  }
  const c = ctx.caseCache.get(shapeName);
  const rows = [];
  const row = (p, extra) => {
    const r = { threads, shape: shapeName, peer: p.id, gflop, ...extra };
    rows.push(r);
    return r;
  };
  const live = [];
  for (const p of peers) {
    const info = peerInfo[p.id];
    if (p.applies && !p.applies(shape)) continue;
    if (!info.ok) {
      row(p, { status: 'unavailable', note: info.reason });
      continue;
    }
    const notBuilt = p.notBuilt?.(shape);
    if (notBuilt) {
      row(p, { status: 'not-built', note: notBuilt });
      continue;
    }
    const skip = p.skip?.(shapeName, gflop, opts);
    if (skip) {
      row(p, { status: 'skipped', note: skip });
      continue;
    }
    if (reuse?.has(p.id)) {
      row(p, { ...reuse.get(p.id), threads, reused: true });
      continue;
    }
    progress(`${threads}t ${shapeName}: preparing ${p.id}`);
    try {
      const r = await p.prepare(c, threads, opts);
      await r.before?.();
      const ts = performance.now();
      const out = await r.run();
      const firstMs = performance.now() - ts;
      live.push({
        p,
        r,
        out: Float32Array.from(r.toPadded ? r.toPadded(out) : out),
        firstMs,
        times: [],
        spent: 0,
        row: row(p, { status: 'ok' }),
      });
    } catch (e) {
      row(p, { status: 'error', note: shortErr(e) });
    }
  }

  // correctness check before timing
  let ref = null,
    refName = null;
  if (shape.kind) {
    if (!refCache.has(shapeName)) {
      progress(`${threads}t ${shapeName}: float64 reference (checked rows)`);
      refCache.set(shapeName, referenceServer(c));
    }
    const r = refCache.get(shapeName);
    refName = `float64, ${r.rows.length} rows`;
    for (const x of live) {
      // packed peers have no padded query rows: compare their real rows only
      const rows = x.r.realRowsOnly ? r.rows.filter(([b, i]) => i < c.keyLengths[b]) : r.rows;
      const want =
        rows === r.rows
          ? r.values
          : Float64Array.from(
              rows.flatMap((row) => {
                const k = r.rows.indexOf(row);
                return [...r.values.subarray(k * shape.E, (k + 1) * shape.E)];
              }),
            );
      x.serverErr = relError(pickRows(x.out, rows, shape), want);
    }
    ref = 'server';
  } else if (gflop <= REF64_MAX_GFLOP) {
    if (!refCache.has(shapeName)) {
      progress(`${threads}t ${shapeName}: float64 reference`);
      refCache.set(shapeName, referenceForward(c));
    }
    ref = refCache.get(shapeName);
    refName = 'float64';
  } else {
    // No float64 reference: the first peer in CHECK_ORDER that agrees with some other peer.
    const cands = CHECK_ORDER.map((id) => live.find((x) => x.p.id === id)).filter(Boolean);
    const agrees = (a) => live.some((b) => b !== a && relError(b.out, a.out) <= CHECK_TOL);
    const refPeer = cands.find(agrees) ?? cands[0];
    if (refPeer) {
      ref = refPeer.out;
      refName = refPeer.p.id;
    }
  }
  for (const x of live) {
    x.row.checkRef = refName;
    x.row.relErr = ref === 'server' ? x.serverErr : ref ? relError(x.out, ref) : null;
    if (refName === x.p.id) {
      // the reference's own error: against the next peer in CHECK_ORDER, if any
      const other = CHECK_ORDER.map((id) => live.find((y) => y.p.id === id)).find((y) => y && y !== x);
      x.row.relErr = other ? relError(x.out, other.out) : null;
      x.row.checkRef = other ? other.p.id : null;
      x.row.isReference = true;
    }
    if (x.row.relErr != null && !(x.row.relErr <= CHECK_TOL)) {
      x.row.status = 'failed-check';
      x.row.note = `output differs from ${refName}: rel. error ${x.row.relErr.toExponential(2)} > ${CHECK_TOL}`;
    }
  }
  for (const x of live) x.out = null;
  const timed = live.filter((x) => x.row.status === 'ok');

  // warm-up (skipped for a peer whose checked run already ate a third of the budget)
  for (let w = 0; w < opts.warmups; w++) {
    for (const x of timed) {
      if (x.firstMs > opts.budgetMs / 3 || x.done) continue;
      progress(`${threads}t ${shapeName}: warm-up ${x.p.id}`);
      await x.r.before?.();
      try {
        await x.r.run();
      } catch (e) {
        Object.assign(x.row, { status: 'error', note: `failed in warm-up: ${shortErr(e)}` });
        x.done = true;
      }
    }
  }

  // timed runs, round-robin, start rotated each round
  for (const x of timed) await x.r.resetStats?.();
  const start = performance.now();
  for (let round = 0; ; round++) {
    const pending = timed.filter((x) => !x.done);
    if (!pending.length) break;
    for (let i = 0; i < pending.length; i++) {
      const x = pending[(i + round) % pending.length];
      await x.r.before?.();
      if (opts.gapMs) await sleep(opts.gapMs);
      const inner = shape.inner ?? 1;
      const ts = performance.now();
      let self = 0; // peers in a child process time their calls themselves (no IPC in the figure)
      try {
        for (let k = 0; k < inner; k++) {
          await x.r.run();
          if (x.r.selfTimed) self += x.r.lastMs();
        }
      } catch (e) {
        Object.assign(x.row, { status: 'error', note: `failed while timed: ${shortErr(e)}` });
        x.done = true;
        continue;
      }
      const ms = (x.r.selfTimed ? self : performance.now() - ts) / inner;
      x.times.push(ms);
      x.spent += ms * inner;
      progress(`${threads}t ${shapeName}: rep ${round + 1} ${x.p.id} ${ms.toFixed(ms < 10 ? 3 : 1)} ms`);
    }
    const elapsed = performance.now() - start;
    for (const x of pending) {
      if (x.done) continue;
      const n = x.times.length;
      if (n >= opts.maxReps || (n >= opts.minReps && elapsed >= opts.budgetMs) || (x.spent >= opts.budgetMs && n >= 1))
        x.done = true;
    }
  }
  for (const x of timed) {
    if (x.row.status !== 'ok') continue;
    const ms = median(x.times);
    Object.assign(x.row, {
      medianMs: ms,
      minMs: Math.min(...x.times),
      reps: x.times.length,
      gflops: gflop / (ms / 1000),
      ...(await x.r.stats?.()),
    });
    if (shape.kind === 'decode') Object.assign(x.row, { gbps: decodeBytes(shape) / (ms * 1e6), msPerToken: ms / shape.B });
  }
  for (const x of live) await x.r.dispose?.();
  return rows;
}
