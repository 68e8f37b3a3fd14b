// The linux-arm64 prebuild, tested on an x86-64 machine: Debian's arm64 Node under qemu
// (scripts/arm64-node.mjs) loads the package installed from the tarball and runs
//  - the consumers (require, import + forwardAsync, worker threads),
//  - a subset of the suite, unmodified: the bad-input suite and the numerical tests against
//    the float64 reference (small sizes: 1, 3, 17..., masks, causal, keyLengths, async),
//    transpiled to CommonJS and run by vitest-lite.cjs (Vitest needs a newer Node).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareArm64Node, runArm64Node } from '../../../scripts/arm64-node.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');

export const SUITES = [
  'test/unit/bad-input.test.ts',
  'test/numerical/mha.test.ts',
  'test/numerical/sdpa.test.ts',
  'test/numerical/matmul.test.ts',
];
const HELPERS = ['test/helpers/reference.ts', 'test/helpers/layers.ts'];
// Imports of the suites, as seen from the flat output folder inside the consumer project.
const IMPORTS = {
  vitest: './vitest-lite.cjs',
  '../../lib/index': 'native-attention',
  '../helpers/reference': './reference.js',
  '../helpers/layers': './layers.js',
  './reference': './reference.js',
};

/** TypeScript → CommonJS (no type check: `npm test` does that), imports remapped. */
function writeSuites(outDir) {
  const ts = createRequire(path.join(root, 'package.json'))('typescript');
  fs.mkdirSync(outDir, { recursive: true });
  fs.copyFileSync(path.join(here, 'vitest-lite.cjs'), path.join(outDir, 'vitest-lite.cjs'));
  for (const file of [...HELPERS, ...SUITES]) {
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(root, file), 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const js = outputText.replace(/require\("([^"]+)"\)/g, (m, spec) => {
      if (spec in IMPORTS) return `require(${JSON.stringify(IMPORTS[spec])})`;
      if (spec.startsWith('.')) throw new Error(`${file}: no mapping for import "${spec}" (add it to IMPORTS)`);
      return m;
    });
    fs.writeFileSync(path.join(outDir, path.basename(file).replace(/\.ts$/, '.js')), js);
  }
  return SUITES.map((f) => path.basename(f).replace(/\.ts$/, '.js'));
}

const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

/** Adds the emulated checks through `check(name, fn)`; `app` has the tarball installed. */
export function emulatedArm64Checks(app, check) {
  let env = null;
  check('linux-arm64: an arm64 Node under qemu (Debian nodejs:arm64, cached in .arm64-sysroot/)', () => {
    const t0 = Date.now();
    env = prepareArm64Node({ log: (m) => console.log(`    ${m}`) });
    return `node ${env.version} via ${env.qemu}${env.fresh ? ', freshly fetched' : ''} (${seconds(t0)})`;
  });
  if (!env) return;
  const node = (args, what, timeout = 5 * 60_000) => {
    const r = runArm64Node(env, args, { cwd: app, timeout });
    if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  check('linux-arm64 (emulated): the package loads prebuilds/linux-arm64', () => {
    const loaded = node(
      [
        '-e',
        "require('native-attention'); console.log(process.arch, Object.keys(require.cache).filter((k) => k.endsWith('.node')).join())",
      ],
      'load',
    );
    if (!/^arm64 .*\/prebuilds\/linux-arm64\/native-attention\.napi\.glibc\.node$/.test(loaded))
      throw new Error(`loaded: ${loaded}`);
    return path.relative(app, loaded.split(' ')[1]);
  });
  for (const [name, file] of [
    ['CommonJS require', 'use.cjs'],
    ['ES module import + forwardAsync', 'use.mjs'],
    ['worker threads', 'worker.mjs'],
  ]) {
    check(`linux-arm64 (emulated): ${name}`, () => {
      const t0 = Date.now();
      return `${node([file], file).split('\n').pop()} (${seconds(t0)})`;
    });
  }
  check(
    `linux-arm64 (emulated): ${SUITES.map((f) => path.basename(f, '.test.ts')).join(', ')} (vs the float64 reference, TOL 1e-5)`,
    () => {
      const files = writeSuites(path.join(app, 'emulated'));
      const t0 = Date.now();
      const out = node(['emulated/vitest-lite.cjs', ...files.map((f) => `emulated/${f}`)], 'the suites', 20 * 60_000);
      return `${out.split('\n').pop()}; wall ${seconds(t0)}`;
    },
  );
  check('linux-arm64 (emulated): without its prebuild, the load error names linux-arm64 (glibc)', () => {
    const dir = path.join(app, 'node_modules', 'native-attention', 'prebuilds', 'linux-arm64');
    fs.renameSync(dir, `${dir}.away`);
    try {
      const r = runArm64Node(env, ['-e', "require('native-attention')"], { cwd: app, timeout: 60_000 });
      const first = r.stderr.split('\n').find((l) => l.startsWith('Error: native-attention:')) ?? r.stderr;
      if (r.status === 0 || !first.includes('for linux-arm64 (glibc).'))
        throw new Error(`expected a load error naming linux-arm64 (glibc), got:\n${r.stderr}`);
      return first.replace(/^Error: /, '');
    } finally {
      fs.renameSync(`${dir}.away`, dir);
    }
  });
}
