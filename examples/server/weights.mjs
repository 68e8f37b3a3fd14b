// The layer the service runs, loaded from a safetensors file of a PyTorch
// nn.MultiheadAttention state dict. Without a file, a demo one is written first, so that
// the real loading path (loadSafetensors + fromPyTorch) runs either way.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromPyTorch, loadSafetensors, MultiHeadAttention, saveSafetensors, toPyTorch } from '../../dist/index.js';

export const DEMO_WEIGHTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '.cache', 'demo-mha-e256-h8.safetensors');

/** Writes the demo layer (E = 256, 8 heads, seed 1) as PyTorch would name its tensors. */
export function writeDemoWeights(file = DEMO_WEIGHTS) {
  const layer = new MultiHeadAttention({ embedDim: 256, numHeads: 8, seed: 1 });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written under a temporary name and renamed: two replicas starting together never read half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  saveSafetensors(toPyTorch(layer), tmp, { format: 'pt', note: 'native-attention example server demo layer' });
  fs.renameSync(tmp, file);
  return file;
}

/**
 * Loads the layer from `file` (the demo file, written if missing, when `file` is empty).
 * Returns { layer, file, created }.
 */
export function loadLayer({ weights, prefix = '', numHeads }) {
  let file = weights;
  let created = false;
  if (!file) {
    file = DEMO_WEIGHTS;
    if (!fs.existsSync(file)) {
      writeDemoWeights(file);
      created = true;
    }
  }
  const { tensors } = loadSafetensors(file);
  const layer = fromPyTorch(tensors, prefix ? { numHeads, prefix } : { numHeads });
  return { layer, file, created };
}
