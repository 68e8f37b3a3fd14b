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
      const missing = e.code === 'ERR_MODULE_NOT_FOUND' && /tfjs-node['"]/.test(e.message);
      throw new Error(missing
        ? 'not installed (its installer downloads libtensorflow from outside the npm registry)'
        : `installed but failed to load: ${e.message.split('\n')[0]}`);
    }
  },
  threadNote: () => 'own thread pool (libtensorflow decides; not set by --threads)',
});
