// Peer registry. A peer: { id, label, threadNote(threads), load() -> {version, notes},
//   applies?(shape) -> false: no row for that case, notBuilt?(shape) -> reason: a "not built yet" row,
//   skip?(shapeName, gflop, opts) -> reason|null, prepare(case, threads) -> { run, before?, dispose?,
//   selfTimed/lastMs?, resetStats?/stats?, toPadded?/realRowsOnly? } } (see lib/run-shape.mjs).
import ours, { oursPacked } from './ours.mjs';
import tfjsNode from './tfjs-node.mjs';
import wasm from './tfjs-wasm.mjs';
import cpu from './tfjs-cpu.mjs';
import { ortMha, ortPlain, ortAttn, ortGqa } from './ort.mjs';

export const PEERS = [ours, oursPacked, tfjsNode, ortMha, ortPlain, ortAttn, ortGqa, wasm, cpu];

const ALIASES = {
  ort: ['ort-mha', 'ort-plain', 'ort-attn', 'ort-gqa'],
  tfjs: ['tfjs-node', 'wasm', 'cpu'],
  node: ['tfjs-node'],
  'tfjs-wasm': ['wasm'],
  'tfjs-cpu': ['cpu'],
};

export function selectPeers(list) {
  if (!list) return PEERS;
  const ids = new Set(list.flatMap((x) => ALIASES[x] ?? [x]));
  for (const id of ids) {
    if (!PEERS.some((p) => p.id === id))
      throw new Error(`unknown peer "${id}" (known: ${PEERS.map((p) => p.id).join(', ')}, ort, tfjs)`);
  }
  return PEERS.filter((p) => ids.has(p.id));
}

export function peerById(id) {
  const p = PEERS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown peer ${id}`);
  return p;
}
