// Hand-written SVG: one row of panels per thread count: GFLOP/s of the base shapes, GFLOP/s of the
// server prefill cases (M1, M2, P1), GB/s of the decode steps (D1, D8) against the same run's copy
// bandwidth. Within a shape, one bar per peer that has a row for it ("not built yet" rows included).
import { PEER_NAMES, fmtG, fmtFlop } from './format.mjs';
import { SHAPES } from './shapes.mjs';

const COLORS = {
  ours: '#d1495b',
  'ours-packed': '#f08a9a',
  'tfjs-node': '#edae49',
  'ort-mha': '#00798c',
  'ort-plain': '#66a182',
  'ort-attn': '#2e4057',
  'ort-gqa': '#30a0d0',
  wasm: '#7b5ea7',
  cpu: '#8d8d8d',
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

const barW = 14,
  gap = 22,
  left = 56,
  plotTop = 56,
  plotH = 200,
  panelH = 310,
  panelGap = 30;

// One panel at (x0, y0): groups of bars; value(r) gives the bar height's quantity.
function panel(s, { x0, y0, title, unit, shapes, rows, peers, value, ref }) {
  const groups = shapes
    .map((shape) => ({ shape, rs: peers.map((p) => rows.find((r) => r.shape === shape && r.peer === p)).filter(Boolean) }))
    .filter((g) => g.rs.length);
  if (!groups.length) return 0;
  const width = Math.max(
    left + groups.reduce((w, g) => w + g.rs.length * barW + gap, 0) + 8,
    left + title.length * 8.2,
    left + (ref?.value ? ref.label.length * 6.2 : 0),
  );
  const vmax = niceMax(
    Math.max(ref?.value ?? 0, ...groups.flatMap((g) => g.rs.map((r) => (r.status === 'ok' ? (value(r) ?? 0) : 0)))) * 1.1,
  );
  const Y = (v) => y0 + plotTop + plotH - (v / vmax) * plotH;
  s.push(`<text x="${x0 + left}" y="${y0 + 24}" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (vmax * k) / 4,
      y = Y(v);
    s.push(`<line x1="${x0 + left}" x2="${x0 + width}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    s.push(`<text x="${x0 + left - 6}" y="${y + 4}" text-anchor="end" fill="#555">${fmtG(v)}</text>`);
  }
  s.push(`<text transform="translate(${x0 + 14} ${Y(vmax / 2)}) rotate(-90)" text-anchor="middle" fill="#555">${unit}</text>`);
  if (ref?.value) {
    s.push(
      `<line x1="${x0 + left}" x2="${x0 + width}" y1="${Y(ref.value)}" y2="${Y(ref.value)}" stroke="#d1495b" stroke-dasharray="6 4"/>`,
    );
    s.push(`<text x="${x0 + width}" y="${y0 + 42}" text-anchor="end" fill="#d1495b" font-size="11">${esc(ref.label)}</text>`);
  }
  let gx = x0 + left + gap / 2;
  for (const g of groups) {
    g.rs.forEach((r, bi) => {
      const x = gx + bi * barW;
      const v = r.status === 'ok' ? value(r) : null;
      if (v != null) {
        const y = Y(v);
        s.push(
          `<rect x="${x + 1}" y="${y}" width="${barW - 2}" height="${Y(0) - y}" fill="${COLORS[r.peer] ?? '#444'}"><title>${esc(`${g.shape} ${PEER_NAMES[r.peer] ?? r.peer}: ${fmtG(v)} ${unit}, ${r.medianMs.toFixed(3)} ms`)}</title></rect>`,
        );
        s.push(
          `<text transform="translate(${x + barW / 2 + 3} ${y - 3}) rotate(-90)" font-size="9" fill="#333">${fmtG(v)}</text>`,
        );
      } else {
        const label = r.status === 'failed-check' ? 'FAILED check' : r.status === 'not-built' ? 'not built yet' : 'n/a';
        const color = r.status === 'failed-check' ? '#c00' : r.status === 'not-built' ? (COLORS[r.peer] ?? '#aaa') : '#aaa';
        s.push(
          `<text transform="translate(${x + barW / 2 + 3} ${Y(0) - 3}) rotate(-90)" font-size="9" fill="${color}">${label}</text>`,
        );
      }
    });
    const mid = gx + (g.rs.length * barW) / 2;
    s.push(`<text x="${mid}" y="${Y(0) + 16}" text-anchor="middle" font-weight="bold">${g.shape}</text>`);
    const sh = SHAPES[g.shape];
    const sub = sh?.kind === 'decode' ? `B=${sh.B}` : fmtFlop(g.rs[0].gflop);
    s.push(`<text x="${mid}" y="${Y(0) + 30}" text-anchor="middle" font-size="10" fill="#555">${sub}</text>`);
    gx += g.rs.length * barW + gap;
  }
  s.push(`<line x1="${x0 + left}" x2="${x0 + width}" y1="${Y(0)}" y2="${Y(0)}" stroke="#333"/>`);
  return width;
}

export function renderChart({ meta, ceiling, bandwidth = {}, results }) {
  const { shapes, threads: threadList } = meta.options;
  const peers = Object.keys(meta.peers);
  const base = shapes.filter((x) => !SHAPES[x].kind);
  const server = shapes.filter((x) => SHAPES[x].kind && SHAPES[x].kind !== 'decode');
  const decode = shapes.filter((x) => SHAPES[x].kind === 'decode');
  const body = [];
  let width = 640;
  const legendH = 46;
  threadList.forEach((threads, ti) => {
    const rows = results.filter((r) => r.threads === threads);
    const y0 = legendH + ti * panelH;
    const t = `${threads} thread${threads > 1 ? 's' : ''}`;
    const c = ceiling[threads];
    let x = 0;
    x +=
      panel(body, {
        x0: x,
        y0,
        title: `GFLOP/s — ${t}`,
        unit: 'GFLOP/s',
        shapes: base,
        rows,
        peers,
        value: (r) => r.gflops,
        ref: c?.gflops && { value: c.gflops, label: `sgemm ceiling ${fmtG(c.gflops)} GFLOP/s (${c.n}³)` },
      }) + panelGap;
    x +=
      panel(body, {
        x0: x,
        y0,
        title: `server cases, GFLOP/s — ${t}`,
        unit: 'GFLOP/s',
        shapes: server,
        rows,
        peers,
        value: (r) => r.gflops,
      }) + panelGap;
    const bw = bandwidth[threads];
    x += panel(body, {
      x0: x,
      y0,
      title: `decode step, GB/s — ${t}`,
      unit: 'GB/s',
      shapes: decode,
      rows,
      peers,
      value: (r) => r.gbps,
      ref: bw?.gbps && { value: bw.gbps, label: `copy ${fmtG(bw.gbps)} GB/s` },
    });
    width = Math.max(width, x + 16);
  });
  // legend, wrapped to the width
  const legend = [];
  let lx = 56,
    ly = 12;
  for (const p of peers) {
    const ok = meta.peers[p].ok;
    const name = `${PEER_NAMES[p] ?? p}${ok ? '' : ' (n/a)'}`;
    const w = 28 + name.length * 7;
    if (lx + w > width && lx > 56) {
      lx = 56;
      ly += 18;
    }
    legend.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS[p] ?? '#444'}"${ok ? '' : ' fill-opacity="0.25"'}/>`,
    );
    legend.push(`<text x="${lx + 16}" y="${ly + 10}">${esc(name)}</text>`);
    lx += w;
  }
  const shift = Math.max(0, ly + 24 - legendH);
  const height = legendH + shift + threadList.length * panelH + 24;
  const k = meta.kernels ?? {};
  const bg = meta.background;
  const busy =
    bg && (bg.otherPct >= 5 || bg.stealPct >= 5)
      ? ` · machine busy: other processes took ${bg.otherPct.toFixed(0)}% of the CPUs`
      : '';
  const foot = `${meta.cpu.model}${meta.cpu.uarch ? ` (${meta.cpu.uarch})` : ''} · ours: ${k.isa ?? 'n/a'}${meta.cpuidMask ? ` (CPUID: ${meta.cpuidMask})` : ''} · OpenBLAS ${k.blasCore ?? 'n/a'} · TensorFlow ${meta.versions?.tensorflow ?? 'n/a'} · onnxruntime ${meta.versions?.onnxruntime ?? 'n/a'} · Node ${meta.node} · ${meta.date}${meta.options.quick ? ' · --quick' : ''}${busy}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    ...legend,
    `<g transform="translate(0 ${shift})">`,
    ...body,
    '</g>',
    `<text x="56" y="${height - 6}" font-size="10" fill="#777">${esc(foot)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
