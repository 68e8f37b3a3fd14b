// The prebuilt binary may depend on nothing outside the package but the base C/C++
// runtime. Returns the offending libraries (empty when the rule holds): `ldd` lines for a
// binary of this machine's architecture, the NEEDED entries (`readelf -d`) for a
// cross-built one, which cannot be loaded here.
import { spawnSync } from 'node:child_process';
import { crossTarget } from './cross.mjs';

const ALLOWED = /^(linux-vdso|ld-linux[-\w]*|libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so/;

/** The NEEDED entries of an ELF file, via `readelf -d`: [libc.so.6, ...]. */
export function neededLibraries(file, arch = process.arch) {
  const t = crossTarget(arch);
  // GNU readelf reads any architecture's ELF; the cross one is preferred when installed.
  const cross = t && spawnSync(`${t.triple}-readelf`, ['--version'], { stdio: 'ignore' }).status === 0;
  const readelf = cross ? `${t.triple}-readelf` : 'readelf';
  const r = spawnSync(readelf, ['-d', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${readelf} -d ${file} failed: ${r.stderr || r.error}`);
  return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

export function checkDependencies(file, arch = process.arch) {
  if (process.platform !== 'linux') return [];
  if (arch !== process.arch) {
    try {
      return neededLibraries(file, arch).filter((lib) => !ALLOWED.test(lib));
    } catch (err) {
      return [err.message];
    }
  }
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return [`ldd failed: ${r.stderr || r.stdout}`];
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .filter((l) => !ALLOWED.test(l.replace(/^\//, '').split('/').pop()));
}
