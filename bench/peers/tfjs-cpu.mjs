import { makeTfPeer } from './tfjs-common.mjs';
import { SHAPES } from '../lib/shapes.mjs';

// Plain-JS kernels: ~1-2 GFLOP/s, so it only runs shapes up to a FLOP cap (see skip).
export const CPU_GFLOP_CAP = { quick: 1.5, full: 12 };

export default makeTfPeer({
  id: 'cpu',
  label: 'TF.js cpu backend',
  backend: 'cpu',
  async importTf() {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    return tf;
  },
  threadNote: () => 'single thread (plain JS)',
  init(tf) {
    tf.backend().firstUse = false;
  }, // silences its "install tfjs-node" banner
  skip(shapeName, gflop, opts) {
    // server cases: the quick cap in every mode (P1's 11.8 GFLOP would take minutes per call)
    const cap = opts.quick || SHAPES[shapeName].kind ? CPU_GFLOP_CAP.quick : CPU_GFLOP_CAP.full;
    if (gflop > cap && !opts.cpuAll) {
      return `skipped: ${gflop.toFixed(1)} GFLOP is over the cpu backend's cap of ${cap} GFLOP${opts.quick ? ' in --quick' : SHAPES[shapeName].kind ? ' for server cases' : ''} (--cpu-all lifts it)`;
    }
    return null;
  },
});
