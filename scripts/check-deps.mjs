// The prebuilt binary may depend on nothing outside the package but the base C/C++
// runtime. Returns the offending `ldd` lines (empty when the rule holds).
import { spawnSync } from 'node:child_process';

const ALLOWED = /^(linux-vdso|ld-linux[-\w]*|libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so/;

export function checkDependencies(file) {
  if (process.platform !== 'linux') return [];
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return [`ldd failed: ${r.stderr || r.stdout}`];
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .filter((l) => !ALLOWED.test(l.replace(/^\//, '').split('/').pop()));
}
