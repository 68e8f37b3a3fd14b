// The two declarations of each native entry point's arguments agree: the TypeScript
// interfaces of binding.d.ts (what lib/ fills, by name) and the C++ table the addon
// exports (native/binding/arg_tables.h: what the binding reads, by position). Each object
// below must name every field of its interface and no other, or tsc fails (npm run lint);
// this test then fails if the C++ list has other names.
import { describe, expect, it } from 'vitest';
import type {
  CacheArgs,
  CacheLengthsArgs,
  ForwardArgs,
  GetWeightArgs,
  LayerArgs,
  MatmulArgs,
  SdpaArgs,
  SetWeightArgs,
} from '../../binding';
import { rawBinding } from '../../lib/binding';

type Fields<T> = Record<keyof T, true>;
const attention = { mask: true, maskStrides: true, causal: true, keyLengths: true, out: true, weightsOut: true } as const;
const layer: Fields<LayerArgs> = {
  embedDim: true,
  numHeads: true,
  numKvHeads: true,
  keyDim: true,
  valueDim: true,
  kdim: true,
  vdim: true,
  outputDim: true,
  useBias: true,
  scale: true,
  rotaryDim: true,
  rotaryInterleaved: true,
  rotaryInvFreq: true,
  slidingWindow: true,
};
const forward: Fields<ForwardArgs> = {
  query: true,
  key: true,
  value: true,
  batch: true,
  queryLength: true,
  keyLength: true,
  sequenceLengths: true,
  cache: true,
  cacheRows: true,
  ...attention,
};
const sdpa: Fields<SdpaArgs> = {
  q: true,
  k: true,
  v: true,
  batch: true,
  heads: true,
  queryLength: true,
  keyLength: true,
  keyDim: true,
  valueDim: true,
  scale: true,
  ...attention,
};
const matmul: Fields<MatmulArgs> = { a: true, b: true, out: true, M: true, N: true, K: true };
const setWeight: Fields<SetWeightArgs> = { name: true, data: true };
const getWeight: Fields<GetWeightArgs> = { name: true, out: true };
const cache: Fields<CacheArgs> = { layer: true, batch: true, maxLength: true };
const cacheLengths: Fields<CacheLengthsArgs> = { lengths: true };

describe('binding.d.ts and the C++ argument tables name the same arguments', () => {
  it.each(Object.entries({ layer, forward, sdpa, matmul, setWeight, getWeight, cache, cacheLengths }))('%s', (entry, fields) => {
    const native = rawBinding.argNames[entry as keyof typeof rawBinding.argNames] as readonly string[];
    expect([...native].sort()).toEqual(Object.keys(fields).sort());
    expect(new Set(native).size).toBe(native.length);
  });
});
