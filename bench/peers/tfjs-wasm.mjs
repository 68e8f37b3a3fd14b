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
  async notes(tf) {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return [`SIMD ${simd ? 'on' : 'off'}, multithread ${mt ? 'on' : 'off'}`];
  },
});
