export const PEER_NAMES = {
  ours: 'ours',
  'ours-packed': 'ours, packed',
  'tfjs-node': 'tfjs-node',
  'ort-mha': 'ORT contrib MHA',
  'ort-plain': 'ORT plain graph',
  'ort-attn': 'ORT contrib Attention',
  'ort-gqa': 'ORT contrib GQA',
  wasm: 'TF.js wasm',
  cpu: 'TF.js cpu',
};
export const fmtMs = (x) =>
  x == null || !Number.isFinite(x) ? '–' : x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(1);
export const fmtG = (x) => (x == null || !Number.isFinite(x) ? '–' : x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1));
export const fmtFlop = (g) =>
  g >= 0.1 ? `${fmtG(g)} GFLOP` : g >= 1e-4 ? `${(g * 1e3).toFixed(1)} MFLOP` : `${(g * 1e6).toFixed(1)} kFLOP`;
export const fmtMB = (x) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(0));
// First line of an error, without the absolute paths Node puts in module-resolution errors.
export function shortErr(e) {
  return String(e?.message ?? e)
    .split('\n')[0]
    .replace(/\s+imported from \S+/, '')
    .replace(/(['"])\/[^'"]*\/node_modules\//g, '$1');
}
