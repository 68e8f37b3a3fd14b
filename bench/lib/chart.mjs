// Hand-written SVG: one panel per thread count, grouped bars of GFLOP/s per shape and peer.
import { PEER_NAMES, fmtG, fmtFlop } from './format.mjs';

const COLORS = { ours: '#d1495b', 'tfjs-node': '#edae49', 'ort-mha': '#00798c', 'ort-plain': '#66a182', wasm: '#7b5ea7', cpu: '#8d8d8d' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

export function renderChart({ meta, ceiling, results }) {
  const { shapes, threads: threadList } = meta.options;
  const peers = Object.keys(meta.peers);
  const barW = 16, gap = 28, left = 64, right = 24, panelH = 330, plotTop = 60, plotH = 200;
  const groupW = peers.length * barW + gap;
  const width = Math.max(left + shapes.length * groupW + right, 640);
  // legend, wrapped to the width
  const legend = [];
  let lx = left, ly = 14;
  for (const p of peers) {
    const ok = meta.peers[p].ok;
    const name = `${PEER_NAMES[p] ?? p}${ok ? '' : ' (n/a)'}`;
    const w = 28 + name.length * 7;
    if (lx + w > width - right && lx > left) { lx = left; ly += 20; }
    legend.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS[p] ?? '#444'}"${ok ? '' : ' fill-opacity="0.25"'}/>`);
    legend.push(`<text x="${lx + 16}" y="${ly + 10}">${esc(name)}</text>`);
    lx += w;
  }
  const legendH = ly + 26;
  const height = legendH + threadList.length * panelH + 20;
  const s = [];
  s.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  s.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  s.push(...legend);
  threadList.forEach((threads, pi) => {
    const y0 = legendH + pi * panelH;
    const rows = results.filter((r) => r.threads === threads);
    const ceil = ceiling[threads]?.gflops;
    const vmax = niceMax(Math.max(ceil ?? 0, ...rows.map((r) => r.gflops ?? 0)) * 1.08);
    const Y = (v) => y0 + plotTop + plotH - (v / vmax) * plotH;
    s.push(`<text x="${left}" y="${y0 + 30}" font-size="15" font-weight="bold">GFLOP/s per shape and peer — ${threads} thread${threads > 1 ? 's' : ''}</text>`);
    for (let k = 0; k <= 4; k++) {
      const v = (vmax * k) / 4, y = Y(v);
      s.push(`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
      s.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#555">${fmtG(v)}</text>`);
    }
    s.push(`<text transform="translate(16 ${Y(vmax / 2)}) rotate(-90)" text-anchor="middle" fill="#555">GFLOP/s</text>`);
    if (ceil) {
      s.push(`<line x1="${left}" x2="${width - right}" y1="${Y(ceil)}" y2="${Y(ceil)}" stroke="#d1495b" stroke-dasharray="6 4"/>`);
      // its label sits beside the panel title, clear of the bars' value labels
      const label = `sgemm ceiling ${fmtG(ceil)} GFLOP/s (ours matmul ${ceiling[threads].n}³)`;
      s.push(`<line x1="${width - right - label.length * 6.6 - 34}" x2="${width - right - label.length * 6.6 - 8}" y1="${y0 + 26}" y2="${y0 + 26}" stroke="#d1495b" stroke-dasharray="6 4"/>`);
      s.push(`<text x="${width - right}" y="${y0 + 30}" text-anchor="end" fill="#d1495b">${esc(label)}</text>`);
    }
    shapes.forEach((shape, gi) => {
      const gx = left + gap / 2 + gi * groupW;
      peers.forEach((p, bi) => {
        const r = rows.find((x) => x.shape === shape && x.peer === p);
        const x = gx + bi * barW;
        if (r?.status === 'ok') {
          const y = Y(r.gflops);
          s.push(`<rect x="${x + 1}" y="${y}" width="${barW - 2}" height="${Y(0) - y}" fill="${COLORS[p] ?? '#444'}"><title>${esc(`${shape} ${PEER_NAMES[p] ?? p}: ${fmtG(r.gflops)} GFLOP/s, ${r.medianMs.toFixed(3)} ms`)}</title></rect>`);
          s.push(`<text transform="translate(${x + barW / 2 + 3} ${y - 3}) rotate(-90)" font-size="10" fill="#333">${fmtG(r.gflops)}</text>`);
        } else {
          const fail = r?.status === 'failed-check';
          s.push(`<text transform="translate(${x + barW / 2 + 3} ${Y(0) - 3}) rotate(-90)" font-size="9" fill="${fail ? '#c00' : '#aaa'}">${fail ? 'FAILED check' : 'n/a'}</text>`);
        }
      });
      s.push(`<text x="${gx + (peers.length * barW) / 2}" y="${Y(0) + 16}" text-anchor="middle" font-weight="bold">${shape}</text>`);
      const sh = rows.find((x) => x.shape === shape);
      if (sh) s.push(`<text x="${gx + (peers.length * barW) / 2}" y="${Y(0) + 30}" text-anchor="middle" font-size="10" fill="#555">${fmtFlop(sh.gflop)}</text>`);
    });
    s.push(`<line x1="${left}" x2="${width - right}" y1="${Y(0)}" y2="${Y(0)}" stroke="#333"/>`);
  });
  s.push(`<text x="${left}" y="${height - 6}" font-size="10" fill="#777">${esc(`${meta.cpu.model} · Node ${meta.node} · ${meta.date}${meta.options.quick ? ' · --quick' : ''}`)}</text>`);
  s.push('</svg>');
  return `${s.join('\n')}\n`;
}
