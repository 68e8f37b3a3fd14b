#!/usr/bin/env node
// Package test: pack the package as npm would publish it, install the tarball into a
// fresh project with install scripts disabled, and use it there the way users will —
// require (CJS), import (ESM), a worker thread, TypeScript types — loading the prebuilt
// binary (the tarball has no build/ folder). Also checks the binaries' dynamic
// dependencies and the package metadata (publint). On an x86-64 Linux machine with
// qemu-user, the linux-arm64 prebuild is tested too, under emulation (emulated/arm64.mjs);
// when it cannot be, this says so (and fails instead with --require-arm64, as CI does).
//   node test/package/run.mjs [--require-arm64]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDependencies, neededLibraries } from '../../scripts/check-deps.mjs';
import { arm64NodeUnavailable } from '../../scripts/arm64-node.mjs';
import { emulatedArm64Checks } from './emulated/arm64.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const here = path.dirname(fileURLToPath(import.meta.url));
const requireArm64 = process.argv.includes('--require-arm64');
let failures = 0;
let passes = 0;
const skips = [];

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function check(name, fn) {
  try {
    const detail = fn();
    passes++;
    console.log(`  ✓ ${name}${detail ? ` — ${detail}` : ''}`);
  } catch (err) {
    failures++;
    console.log(
      `  ✗ ${name}\n    ${String(err.message ?? err)
        .split('\n')
        .join('\n    ')}`,
    );
  }
}

const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (!fs.existsSync(prebuildDir) || !fs.readdirSync(prebuildDir).some((f) => f.endsWith('.node'))) {
  console.error(`test:package: no prebuilt binary in ${path.relative(root, prebuildDir)}; run \`npm run prebuild\` first.`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'native-attention-pkg-'));
try {
  console.log('package test');
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root }))[0];
  const tarball = path.join(work, packed.filename);
  const files = packed.files.map((f) => f.path);
  check('tarball carries the prebuilt binary, the compiled lib and the sources to rebuild', () => {
    for (const want of ['dist/index.js', 'dist/index.d.ts', 'binding.d.ts', 'CMakeLists.txt', 'native/kernels/mha.cpp']) {
      if (!files.includes(want)) throw new Error(`missing ${want}`);
    }
    const prebuilt = files.filter((f) => f.startsWith('prebuilds/') && f.endsWith('.node'));
    if (!prebuilt.length) throw new Error('no prebuilds/*.node');
    if (files.some((f) => f.startsWith('build/') || f.startsWith('test/') || f.startsWith('bench/'))) {
      throw new Error('tarball contains build/, test/ or bench/');
    }
    const targets = prebuilt.map((f) => f.split('/')[1]).join(', ');
    return `${files.length} files, ${(packed.size / 2 ** 20).toFixed(1)} MiB packed (${(packed.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked); prebuilds: ${targets}`;
  });

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  sh('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app });
  const installed = path.join(app, 'node_modules', 'native-attention');
  for (const f of fs.readdirSync(path.join(here, 'consumers')))
    fs.copyFileSync(path.join(here, 'consumers', f), path.join(app, f));

  check('installed package has no build/ folder: the prebuild is what loads', () => {
    if (fs.existsSync(path.join(installed, 'build'))) throw new Error('build/ exists in the installed package');
  });
  const prebuildsDir = path.join(installed, 'prebuilds');
  const prebuildTargets = fs.existsSync(prebuildsDir) ? fs.readdirSync(prebuildsDir) : [];
  check('prebuilt binaries depend only on the base C/C++ runtime (ldd; readelf -d for other architectures)', () => {
    const seen = [];
    for (const target of prebuildTargets) {
      const arch = target.split('-').pop();
      const dir = path.join(installed, 'prebuilds', target);
      for (const b of fs.readdirSync(dir).filter((f) => f.endsWith('.node'))) {
        const bad = checkDependencies(path.join(dir, b), arch);
        if (bad.length) throw new Error(`${target}/${b}:\n${bad.join('\n')}`);
        const needed = process.platform === 'linux' ? ` [${neededLibraries(path.join(dir, b), arch).join(' ')}]` : '';
        seen.push(`${target}/${b}${needed}`);
      }
    }
    return `\n      ${seen.join('\n      ')}`;
  });
  check('node-gyp-build resolves the same prebuild', () => {
    const ngb = path.join(root, 'node_modules', 'node-gyp-build');
    const out = sh(process.execPath, ['-e', `console.log(require(${JSON.stringify(ngb)}).path(${JSON.stringify(installed)}))`]);
    if (!out.includes(`${path.sep}prebuilds${path.sep}`)) throw new Error(`resolved ${out}`);
    return path.relative(installed, out.trim());
  });
  for (const [name, file] of [
    ['CommonJS require', 'use.cjs'],
    ['ES module import (named exports)', 'use.mjs'],
    ['worker thread', 'worker.mjs'],
  ]) {
    check(name, () => sh(process.execPath, [file], { cwd: app }).trim().split('\n').pop());
  }
  check('TypeScript consumer type-checks against the published types', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    sh(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'use.mts'], {
      cwd: app,
    });
  });
  check('publint: package.json exports, types and files are consistent', () => {
    const publint = path.join(root, 'node_modules', 'publint', 'src', 'cli.js');
    return sh(process.execPath, [publint, '--strict', root]).trim().split('\n').pop();
  });
  // linux-arm64 under emulation (before the fallback check below removes prebuilds/).
  if (process.platform === 'linux' && process.arch !== 'arm64') {
    const why = !prebuildTargets.includes('linux-arm64')
      ? 'the tarball has no linux-arm64 prebuild (`npm run prebuild` builds it when the cross tools are installed)'
      : arm64NodeUnavailable();
    if (why) skips.push(`linux-arm64 not tested: ${why}`);
    else emulatedArm64Checks(app, check);
  }
  if (process.env.SKIP_SOURCE_BUILD !== '1') {
    check('fallback: with no prebuild, `npm run build:from-source` builds and loads', () => {
      fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true, force: true });
      const failed = spawnSync(process.execPath, ['use.cjs'], { cwd: app, encoding: 'utf8' });
      if (failed.status === 0 || !failed.stderr.includes('build:from-source')) {
        throw new Error(`expected a load failure naming the fix, got:\n${failed.stderr}`);
      }
      sh('npm', ['run', 'build:from-source'], { cwd: installed });
      return sh(process.execPath, ['use.cjs'], { cwd: app }).trim();
    });
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
for (const s of skips) console.log(`  - SKIPPED ${s}`);
if (requireArm64 && skips.length) {
  failures++;
  console.log('  ✗ --require-arm64: the linux-arm64 prebuild must be tested');
}
console.log(`${passes} passed, ${failures} failed${skips.length ? `, ${skips.length} skipped` : ''}`);
process.exit(failures ? 1 : 0);
