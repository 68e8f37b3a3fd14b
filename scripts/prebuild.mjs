#!/usr/bin/env node
// Makes the self-contained prebuilt binaries shipped in the npm package:
//   prebuilds/<platform>-<arch>/native-attention.napi[.glibc].node
// named as prebuildify does, so node-gyp-build's loader (and ours) find them. OpenBLAS is
// linked statically (only what sgemm needs), the result is stripped, and its dynamic
// dependencies are checked: nothing but the base C/C++ runtime.
//
//   node scripts/prebuild.mjs                 every target this machine can build: its own,
//                                             plus linux-arm64 when the cross tools are
//                                             installed (says so when it skips it)
//   node scripts/prebuild.mjs --arch arm64    only these (repeat --arch or use a,b);
//                                             missing tools are then an error
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDependencies } from './check-deps.mjs';
import { CROSS, crossTarget, missingCrossTools } from './cross.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const fail = (message) => {
  console.error(`prebuild: ${message}`);
  process.exit(1);
};

const args = process.argv.slice(2);
const requested = args.flatMap((a, i) => (args[i - 1] === '--arch' ? a.split(',') : [])).filter(Boolean);
const skipped = [];
let targets;
if (requested.length) {
  targets = [...new Set(requested)];
  for (const arch of targets) {
    let missing;
    try {
      missing = missingCrossTools(arch);
    } catch (err) {
      fail(err.message);
    }
    if (missing.length)
      fail(`cannot build ${process.platform}-${arch}: missing ${missing.join(', ')}\n  install: ${crossTarget(arch).install}`);
  }
} else {
  targets = [process.arch];
  if (process.platform === 'linux') {
    for (const arch of Object.keys(CROSS).filter((a) => a !== process.arch)) {
      const missing = missingCrossTools(arch);
      if (!missing.length) {
        targets.push(arch);
        continue;
      }
      skipped.push(arch);
      console.log(
        `prebuild: SKIPPING linux-${arch}: missing ${missing.join(', ')}\n` +
          `  install (Debian/Ubuntu, as root): ${CROSS[arch].install}`,
      );
    }
  }
}

const libc = process.platform === 'linux' ? '.glibc' : '';
const written = [];
for (const arch of targets) {
  const cross = crossTarget(arch);
  const out = `build-prebuild-${arch}`;
  console.log(`prebuild: building ${process.platform}-${arch}${cross ? ` (cross, ${cross.triple})` : ''}`);
  run(process.execPath, [
    'scripts/build-native.mjs',
    '--static-blas',
    '--out',
    out,
    ...(cross ? ['--arch', arch, '--toolchain', cross.toolchain] : []),
  ]);
  const built = path.join(root, out, 'Release', 'native_attention.node');
  const dir = path.join(root, 'prebuilds', `${process.platform}-${arch}`);
  const target = path.join(dir, `native-attention.napi${libc}.node`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(built, target);
  const strip = cross ? `${cross.triple}-strip` : 'strip';
  run(strip, process.platform === 'darwin' ? ['-x', target] : ['--strip-unneeded', target]);

  const problems = checkDependencies(target, arch);
  if (problems.length) {
    fail(`${path.relative(root, target)} depends on libraries users may not have:\n  ${problems.join('\n  ')}`);
  }
  const mb = (fs.statSync(target).size / 2 ** 20).toFixed(1);
  written.push(`${path.relative(root, target)} (${mb} MiB, self-contained)`);
}
console.log(`prebuild: wrote\n  ${written.join('\n  ')}`);
for (const arch of skipped) {
  const stale = path.join('prebuilds', `${process.platform}-${arch}`);
  console.log(
    `prebuild: skipped ${process.platform}-${arch} (no cross tools)` +
      (fs.existsSync(path.join(root, stale)) ? `; WARNING: ${stale}/ is left from an earlier build and was not rebuilt` : ''),
  );
}
