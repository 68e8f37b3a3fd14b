// Loads the native addon: a prebuilt binary shipped in the package first
// (prebuilds/<platform>-<arch>/, the node-gyp-build convention), then a local
// from-source build (build/Release). A failure names both places and the fix.
import fs from 'node:fs';
import path from 'node:path';
import type * as Raw from '../binding';
import type {
  CacheArgs,
  CacheLengthsArgs,
  ForwardArgs,
  GetWeightArgs,
  LayerArgs,
  MatmulArgs,
  SdpaArgs,
  SetWeightArgs,
} from '../binding';

type RawBinding = typeof Raw;

const packageRoot = path.resolve(__dirname, '..');

function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

/** Prebuilt candidates for this platform, most specific first. */
function prebuildCandidates(dir: string): string[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return [];
  }
  const libc = process.platform === 'linux' ? (isMusl() ? 'musl' : 'glibc') : null;
  return files
    .filter((f) => f.split('.').includes('napi'))
    .filter((f) => {
      const tags = f.split('.');
      const fileLibc = tags.find((t) => t === 'glibc' || t === 'musl');
      return !fileLibc || fileLibc === libc;
    })
    .sort((a, b) => b.split('.').length - a.split('.').length)
    .map((f) => path.join(dir, f));
}

/** The platform as the prebuilds are named and as users read it: `linux-arm64 (glibc)`. */
function platformName(): string {
  const target = `${process.platform}-${process.arch}`;
  return process.platform === 'linux' ? `${target} (${isMusl() ? 'musl' : 'glibc'})` : target;
}

/** The platforms this package ships prebuilt binaries for, named like platformName(). */
function shippedPrebuilds(): string[] {
  const root = path.join(packageRoot, 'prebuilds');
  try {
    return fs
      .readdirSync(root)
      .sort()
      .flatMap((target) => {
        const tags = fs
          .readdirSync(path.join(root, target))
          .filter((f) => f.endsWith('.node'))
          .map((f) => f.split('.'));
        const libcs = [...new Set(tags.map((t) => t.find((x) => x === 'glibc' || x === 'musl')).filter(Boolean))];
        return tags.length ? [libcs.length ? `${target} (${libcs.join(', ')})` : target] : [];
      });
  } catch {
    return [];
  }
}

/** True when `file` exists and is newer than every one of `others`. */
function isNewer(file: string, others: readonly string[]): boolean {
  try {
    const t = fs.statSync(file).mtimeMs;
    return others.every((o) => fs.statSync(o).mtimeMs < t);
  } catch {
    return false;
  }
}

function load(): RawBinding {
  // NATIVE_ATTENTION_BINARY=<file.node> loads exactly that file (e.g. a sanitizer build).
  const explicit = process.env.NATIVE_ATTENTION_BINARY;
  if (explicit) return require(path.resolve(explicit)) as RawBinding;
  const prebuildDir = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  const buildFile = path.join(packageRoot, 'build', 'Release', 'native_attention.node');
  const tried: string[] = [];
  // NATIVE_ATTENTION_FROM_SOURCE=1 skips prebuilds: for developers testing a fresh build.
  const prebuilds = process.env.NATIVE_ATTENTION_FROM_SOURCE === '1' ? [] : prebuildCandidates(prebuildDir);
  // A local build newer than the prebuilds comes first: it is what was built from these
  // sources (a clone after a native change, or a package rebuilt with build:from-source),
  // while the prebuilds may predate it. An installed package has no build/ unless built.
  const order = isNewer(buildFile, prebuilds) ? [buildFile, ...prebuilds] : [...prebuilds, buildFile];
  for (const file of order) {
    if (!fs.existsSync(file)) continue;
    try {
      return require(file) as RawBinding;
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message}`);
    }
  }
  const shipped = shippedPrebuilds();
  throw new Error(
    `native-attention: no native binary could be loaded for ${platformName()}.\n` +
      `This package has prebuilt binaries for: ${shipped.length ? shipped.join(', ') : 'none'}.\n` +
      `Looked in:\n  ${prebuildDir}${path.sep} (prebuilt binaries)\n  ${buildFile} (build from source)\n` +
      (tried.length ? `Failed to load:\n  ${tried.join('\n  ')}\n` : '') +
      'Build it from source (needs cmake, a C++17 compiler and OpenBLAS, e.g. ' +
      '`apt-get install cmake g++ libopenblas-dev`) with:\n' +
      `  npm run build:from-source --prefix "${packageRoot}"`,
  );
}

/** The raw native module. Internal: use `native` below (or the classes in lib/). */
export const rawBinding: RawBinding = load();

/**
 * A function that lists an arguments object's fields in the native order (`names`, from
 * the module's argNames). Compiled once per entry point, so each call reads the fields
 * with plain property loads: the named objects cost next to nothing, while C++ reads its
 * arguments by position.
 */
function packer<T>(names: readonly (keyof T)[]): (args: T) => unknown[] {
  const fields = names.map(String);
  for (const f of fields) {
    if (!/^[A-Za-z_$][\w$]*$/.test(f)) throw new Error(`native-attention: unexpected argument name ${JSON.stringify(f)}`);
  }
  return new Function('o', `return [${fields.map((f) => `o.${f}`).join(', ')}];`) as (args: T) => unknown[];
}

const order = rawBinding.argNames;
const pack = {
  layer: packer<LayerArgs>(order.layer),
  forward: packer<ForwardArgs>(order.forward),
  sdpa: packer<SdpaArgs>(order.sdpa),
  matmul: packer<MatmulArgs>(order.matmul),
  setWeight: packer<SetWeightArgs>(order.setWeight),
  getWeight: packer<GetWeightArgs>(order.getWeight),
  cache: packer<CacheArgs>(order.cache),
  cacheLengths: packer<CacheLengthsArgs>(order.cacheLengths),
};

/** A native key/value cache, taking its arguments as the named objects of binding.d.ts. */
export class NativeCache {
  /** The raw object: what ForwardArgs.cache takes. */
  readonly raw: Raw.AttentionCache;
  constructor(layer: NativeLayer, args: Omit<CacheArgs, 'layer'>) {
    this.raw = new rawBinding.AttentionCache(...pack.cache({ layer: layer.raw, ...args }));
  }
  getLengths(args: CacheLengthsArgs): void {
    this.raw.getLengths(...pack.cacheLengths(args));
  }
  truncate(args: CacheLengthsArgs): void {
    this.raw.truncate(...pack.cacheLengths(args));
  }
  byteLength(): number {
    return this.raw.byteLength();
  }
  busy(): boolean {
    return this.raw.busy();
  }
}

/** The native layer, taking its arguments as the named objects of binding.d.ts. */
export class NativeLayer {
  /** The raw object: what CacheArgs.layer takes. */
  readonly raw: Raw.MultiHeadAttention;
  constructor(args: LayerArgs) {
    this.raw = new rawBinding.MultiHeadAttention(...pack.layer(args));
  }
  setWeight(args: SetWeightArgs): void {
    this.raw.setWeight(...pack.setWeight(args));
  }
  getWeight(args: GetWeightArgs): void {
    this.raw.getWeight(...pack.getWeight(args));
  }
  forward(args: ForwardArgs): void {
    this.raw.forward(...pack.forward(args));
  }
  forwardAsync(args: ForwardArgs): Promise<void> {
    return this.raw.forwardAsync(...pack.forward(args));
  }
}

/** The native module with named arguments. Internal: use the classes in lib/. */
export const native = {
  MultiHeadAttention: NativeLayer,
  AttentionCache: NativeCache,
  scaledDotProductAttention: (args: SdpaArgs): void => rawBinding.scaledDotProductAttention(...pack.sdpa(args)),
  scaledDotProductAttentionAsync: (args: SdpaArgs): Promise<void> =>
    rawBinding.scaledDotProductAttentionAsync(...pack.sdpa(args)),
  matmul: (args: MatmulArgs): void => rawBinding.matmul(...pack.matmul(args)),
  setNumThreads: rawBinding.setNumThreads,
  getNumThreads: rawBinding.getNumThreads,
  blasInfo: rawBinding.blasInfo,
  cpuInfo: rawBinding.cpuInfo,
  limits: rawBinding.limits,
};
