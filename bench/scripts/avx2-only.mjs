#!/usr/bin/env node
// Runs a command on an AVX2-only CPU as far as its libraries can tell: CPUID answers with
// AVX-512, AMX and AVX-VNNI cleared (bench/cpuid/avx2_only.c, preloaded), so onnxruntime,
// OpenBLAS and our kernels all pick their AVX2 code. This is how an AVX-512 machine measures
// the AVX2 comparison fairly: forcing only our path (NATIVE_ATTENTION_ISA=avx2) leaves
// onnxruntime on AVX-512, which it has no switch to leave.
//   node bench/scripts/avx2-only.mjs npm run bench -- --peers ours,ort
// Needs x86-64 Linux with CPUID faulting (the cpuid_fault flag in /proc/cpuinfo) and a C
// compiler (cc). The benchmark records the mask in its report (NATIVE_ATTENTION_CPUID_MASK).
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const command = process.argv.slice(2);
if (!command.length) {
  console.error('usage: node bench/scripts/avx2-only.mjs <command> [args...]');
  process.exit(2);
}
let flags = '';
try {
  flags = readFileSync('/proc/cpuinfo', 'utf8');
} catch {}
if (process.platform !== 'linux' || process.arch !== 'x64' || !/\bcpuid_fault\b/.test(flags)) {
  console.error('avx2-only: needs x86-64 Linux on a CPU with CPUID faulting (cpuid_fault in /proc/cpuinfo)');
  process.exit(2);
}
const lib = path.join(mkdtempSync(path.join(os.tmpdir(), 'avx2-only-')), 'avx2_only.so');
const cc = spawnSync('cc', ['-O2', '-shared', '-fPIC', '-o', lib, path.join(here, '..', 'cpuid', 'avx2_only.c'), '-ldl'], {
  stdio: 'inherit',
});
if (cc.status !== 0) {
  console.error('avx2-only: could not compile bench/cpuid/avx2_only.c (is a C compiler installed?)');
  process.exit(2);
}
const preload = [lib, process.env.LD_PRELOAD].filter(Boolean).join(' ');
const r = spawnSync(command[0], command.slice(1), {
  stdio: 'inherit',
  env: { ...process.env, LD_PRELOAD: preload, NATIVE_ATTENTION_CPUID_MASK: 'avx2-only' },
});
process.exit(r.status ?? 1);
