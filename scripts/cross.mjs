// Targets this machine can build besides its own: linux-arm64 (glibc) from an x86-64
// Debian/Ubuntu host with the cross compiler and arm64 OpenBLAS (multiarch). Shared by
// scripts/prebuild.mjs, scripts/check-deps.mjs and the package test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const CROSS = {
  arm64: {
    triple: 'aarch64-linux-gnu',
    toolchain: 'cmake/aarch64-linux-gnu.cmake',
    install:
      'dpkg --add-architecture arm64 && apt-get update && ' +
      'apt-get install g++-aarch64-linux-gnu binutils-aarch64-linux-gnu libopenblas-dev:arm64',
  },
};

const onPath = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** The cross target for `arch`, or null when `arch` is this machine's own. */
export function crossTarget(arch) {
  if (arch === process.arch) return null;
  const t = CROSS[arch];
  if (!t || process.platform !== 'linux') {
    throw new Error(
      `building for ${process.platform}-${arch} on ${process.platform}-${process.arch} is not supported ` +
        `(cross builds: linux-x64 → linux-${Object.keys(CROSS).join(', linux-')})`,
    );
  }
  return t;
}

/** What is missing to cross-build for `arch` (empty when everything is there). */
export function missingCrossTools(arch) {
  const t = crossTarget(arch);
  if (!t) return [];
  const missing = [`${t.triple}-g++`, `${t.triple}-strip`, `${t.triple}-readelf`].filter((tool) => !onPath(tool));
  const blas = [`/usr/lib/${t.triple}/openblas-pthread/libopenblas.a`, `/usr/lib/${t.triple}/libopenblas.a`];
  if (!blas.some((f) => fs.existsSync(f))) missing.push(`static OpenBLAS for ${arch} (libopenblas.a in /usr/lib/${t.triple})`);
  return missing;
}
