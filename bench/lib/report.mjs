// Plain-text report: header, one table per thread count, memory and concurrency sections.
import { SHAPES, describe } from './shapes.mjs';
import { PEER_NAMES, fmtMs, fmtG, fmtMB, fmtFlop } from './format.mjs';

function table(headers, rows, align) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) =>
    cells
      .map((c, i) =>
        i === cells.length - 1
          ? String(c ?? '')
          : align[i] === 'r'
            ? String(c ?? '').padStart(w[i])
            : String(c ?? '').padEnd(w[i]),
      )
      .join('  ')
      .trimEnd();
  return [line(headers), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => (r.sep ? r.sep : line(r)))].join('\n');
}

export function renderReport({ meta, ceiling, core = {}, bandwidth = {}, results, memory, concurrency }) {
  const o = [];
  const { cpu, blas, options } = meta;
  o.push(`native-attention benchmark${options.quick ? ' (--quick)' : ''} — ${meta.date}`);
  o.push(`CPU: ${cpu.model}${cpu.uarch ? ` (${cpu.uarch})` : ''} · ${cpu.logicalCpus} logical CPUs · ${cpu.flags.join(' ')}`);
  const k = meta.kernels ?? {};
  o.push(
    `Kernels: ours' vector path ${k.isa ?? 'n/a'} · OpenBLAS kernel family ${k.blasCore ?? 'n/a'} · ` +
      `TensorFlow ${meta.versions?.tensorflow ?? 'n/a'} (tfjs-node) · onnxruntime ${meta.versions?.onnxruntime ?? 'n/a'}`,
  );
  if (meta.cpuidMask)
    o.push(
      `CPUID masked (${meta.cpuidMask}): AVX-512, AMX and AVX-VNNI hidden from every library in the process, ` +
        'so every peer ran its AVX2 kernels (bench/scripts/avx2-only.mjs)',
    );
  o.push(`Node ${meta.node} (${meta.platform})`);
  const env = Object.entries(blas.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  o.push(
    `BLAS: ${blas.reported ?? 'configuration not reported (ours not loaded or no info call)'}` +
      `${blas.mappedLibraries.length ? ` · loaded: ${blas.mappedLibraries.join(', ')}` : ''}${env ? ` · env: ${env}` : ''}`,
  );
  const bg = meta.background;
  if (bg) {
    const busy = bg.otherPct >= 5 || bg.stealPct >= 5;
    o.push(
      `${busy ? 'WARNING: machine busy — ' : ''}other processes used ${bg.otherPct.toFixed(0)}% and the hypervisor stole ` +
        `${bg.stealPct.toFixed(0)}% of all CPUs during the timed part (load average at start ${meta.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')})` +
        `${busy ? '; timings are not trustworthy' : ''}`,
    );
  }
  o.push('Peers:');
  for (const [id, p] of Object.entries(meta.peers)) {
    const what = p.ok
      ? `${p.label} [${p.version}]${p.notes?.length ? ` (${p.notes.join('; ')})` : ''} — threads: ${p.threads}`
      : p.reason;
    o.push(`  ${id.padEnd(10)} ${what}`);
  }
  o.push(
    `Timing: ${options.warmups} warm-up run(s) after a checked run, then peers interleaved round-robin; median of ` +
      `${options.minReps}–${options.maxReps} reps within ~${options.budgetMs / 1000} s per shape (slow peers stop after one budget of their own).`,
  );
  if (options.reuseSingleThreaded)
    o.push('--quick: single-threaded peers (wasm, cpu) are timed at the first thread count only and that row is repeated.');
  o.push(
    `Check: rel. error ‖out−ref‖/‖ref‖ against a float64 JS reference (shapes ≤ 2 GFLOP), else against the first of ` +
      `ours, ort-plain, ort-mha, tfjs-node, wasm, cpu that agrees with another peer (the reference row shows its error vs the next one);` +
      ` a peer above ${meta.checkTolerance} is not timed. Server cases (M, P, D): always the float64 reference, on the output rows it computes` +
      ' (a few sequences and rows of each, padded rows included).',
  );

  for (const threads of options.threads) {
    const c = ceiling[threads];
    const ceil = c?.gflops
      ? `sgemm ceiling ${fmtG(c.gflops)} GFLOP/s (ours matmul ${c.n}³, best of ${fmtG(c.before)} before / ${fmtG(c.after)} after the shapes)`
      : `sgemm ceiling: n/a (${c?.error ?? 'not measured'})`;
    o.push('', `== ${threads} thread${threads > 1 ? 's' : ''} · ${ceil} ==`);
    const k = core[threads];
    if (k)
      o.push(
        k.gflops
          ? `attention core: scaledDotProductAttention ${k.shape}, no mask: ${fmtMs(k.ms)} ms, ${fmtG(k.gflops)} GFLOP/s${c?.gflops ? ` = ${Math.round((100 * k.gflops) / c.gflops)}% of the sgemm ceiling` : ''} (4·L²·D flops per head, median of ${k.reps}; best of ${fmtG(k.before)} before / ${fmtG(k.after)} after the shapes)`
          : `attention core: n/a (${k.error})`,
      );
    const bw = bandwidth[threads];
    if (bw)
      o.push(
        bw.gbps
          ? `memory bandwidth: ${fmtG(bw.gbps)} GB/s (copy of ${bw.mib} MiB by ${bw.threads} thread${bw.threads > 1 ? 's' : ''}, read + write counted, same run)`
          : `memory bandwidth: n/a (${bw.error})`,
      );
    const rows = [];
    for (const shape of options.shapes) {
      const rs = results.filter((r) => r.threads === threads && r.shape === shape);
      if (!rs.length) continue;
      rows.push({ sep: `${describe(shape)} · ${fmtFlop(rs[0].gflop)}  [${SHAPES[shape].what}]` });
      const ort = rs.filter((r) => r.peer.startsWith('ort-') && r.status === 'ok').sort((a, b) => a.medianMs - b.medianMs)[0];
      for (const r of rs) {
        const notes = [];
        if (r === ort) notes.push("ORT's best");
        if (r.reused) notes.push(r.note);
        else if (r.status !== 'ok' || r.note) notes.push(r.note ?? r.status);
        if (r.cpuPerWall != null)
          notes.push(
            `CPU/wall ${r.cpuPerWall.toFixed(2)}${r.busyThreads != null ? `, ${r.busyThreads} busy thread${r.busyThreads === 1 ? '' : 's'}` : ''}`,
          );
        if (r.msPerToken != null)
          notes.push(
            `${fmtMs(r.msPerToken)} ms/token${bw?.gbps ? `, ${((100 * r.gbps) / bw.gbps).toFixed(0)}% of copy bandwidth` : ''}`,
          );
        const e = r.relErr?.toExponential(1);
        const err = r.isReference ? (e ? `ref; ${e} vs ${r.checkRef}` : 'ref') : e ? `${e} (${r.checkRef})` : '–';
        rows.push([
          `  ${shape}`,
          PEER_NAMES[r.peer] ?? r.peer,
          r.status === 'ok'
            ? fmtMs(r.medianMs)
            : r.status === 'failed-check'
              ? 'FAILED'
              : r.status === 'not-built'
                ? 'not built'
                : '–',
          r.status === 'ok' ? fmtG(r.gflops) : '–',
          r.gbps ? fmtG(r.gbps) : '–',
          r.speedup ? `${r.speedup.toFixed(2)}×` : r.peer === 'ours' && r.status === 'ok' ? '1' : '–',
          r.pctCeiling ? `${r.pctCeiling.toFixed(0)}%` : '–',
          err,
          fmtMB(r.peakRssMB),
          r.reps ?? '–',
          notes.join('; '),
        ]);
      }
    }
    o.push(
      table(
        ['shape', 'peer', 'median ms', 'GFLOP/s', 'GB/s', 'ours ×', '% sgemm', 'rel. error (vs)', 'peak RSS MB', 'reps', 'note'],
        rows,
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
  }
  o.push(
    '',
    'ours × = peer median / ours median (above 1: ours is faster). % sgemm = GFLOP/s over the sgemm ceiling at the same thread count.',
    'GB/s (decode steps) = the bytes a step must read (weights + cached keys and values) / median time; ms/token = median / batch.',
    'FLOPs: padded batches count the padded positions, causal cases the visible (query, key) pairs only.',
    "CPU/wall (tfjs-node) = the child process's CPU time / wall time over its timed calls; busy threads = its threads with at least a quarter",
    "of the busiest one's CPU time then (on a loaded machine CPU/wall falls below the thread count; the busy-thread count does not).",
  );

  if (memory?.length) {
    o.push(
      '',
      `Memory — peak RSS of a fresh child process per row (${memory[0].threads} thread(s), ${memory[0].runs} forward calls); ` +
        'Δ = peak minus RSS once the peer holds its weights and the inputs exist (so Δ is the output(s) plus working memory):',
    );
    const rows = memory.map((m) => [
      m.shape,
      PEER_NAMES[m.peer] ?? m.peer,
      m.mode,
      m.error ? '–' : fmtMB(m.peakMB),
      m.error ? '–' : `+${fmtMB(m.deltaMB)}`,
      m.error ?? '',
    ]);
    o.push(table(['shape', 'peer', 'call', 'peak RSS MB', 'Δ MB', 'note'], rows, ['l', 'l', 'l', 'r', 'r', 'l']));
  }
  if (concurrency) {
    o.push('');
    if (concurrency.error) o.push(`Concurrency (ours, S2, 2 threads): n/a — ${concurrency.error}`);
    else {
      o.push(
        `Concurrency (ours, ${concurrency.shape}, ${concurrency.threads} threads, median of ${concurrency.reps}): ` +
          `2 simultaneous forwardAsync ${fmtMs(concurrency.concurrentMs)} ms vs back to back ${fmtMs(concurrency.sequentialMs)} ms → ` +
          `ratio ${concurrency.ratio.toFixed(2)} (1.00 = no overlap gain; outputs vs serial: max rel. error ${concurrency.maxRelErrVsSerial.toExponential(1)})`,
      );
    }
  }
  return `${o.join('\n')}\n`;
}
