import { makeTfPeer } from './tfjs-common.mjs';

export default makeTfPeer({
  id: 'wasm',
  label: 'TF.js wasm backend',
  backend: 'wasm',
  async importTf() {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
    return tf;
  },
  threadNote: () => 'single thread (no wasm threads in Node)',
  // Its batched (rank>2) matMul ran ~10x slower than a loop of 2D matMuls on few long heads (S3);
  // the loop is much slower on many short heads (S4) or one query (S5). So: pick per shape.
  headLoop: ({ B, H, Lq, Lk }) => B * H <= 32 && Lq * Lk >= 128 * 128,
  async notes(tf) {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return [
      `SIMD ${simd ? 'on' : 'off'}, multithread ${mt ? 'on' : 'off'}`,
      'per-head 2D matMuls when B·H ≤ 32 and Lq·Lk ≥ 128², else batched matMul',
    ];
  },
});
