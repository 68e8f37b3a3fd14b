import { makeTfPeer } from './tfjs-common.mjs';

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
  init(tf) { tf.backend().firstUse = false; }, // silences its "install tfjs-node" banner
  skip(shapeName, gflop, opts) {
    const cap = opts.quick ? CPU_GFLOP_CAP.quick : CPU_GFLOP_CAP.full;
    if (gflop > cap && !opts.cpuAll) {
      return `skipped: ${gflop.toFixed(1)} GFLOP is over the cpu backend's cap of ${cap} GFLOP${opts.quick ? ' in --quick' : ''} (--cpu-all lifts it)`;
    }
    return null;
  },
});
