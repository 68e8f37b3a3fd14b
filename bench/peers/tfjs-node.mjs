import { makeTfPeer } from './tfjs-common.mjs';

// Not a dependency: its installer downloads libtensorflow from outside the npm registry.
// Used when it happens to be installed (e.g. `npm install @tensorflow/tfjs-node` where that works).
export default makeTfPeer({
  id: 'tfjs-node',
  label: '@tensorflow/tfjs-node',
  backend: 'tensorflow',
  async importTf() {
    try {
      return await import('@tensorflow/tfjs-node');
    } catch (e) {
      const err = new Error('not installed (its installer downloads libtensorflow from outside the npm registry)');
      err.detail = e.message;
      throw err;
    }
  },
  threadNote: () => 'own thread pool (libtensorflow decides; not set by --threads)',
});
