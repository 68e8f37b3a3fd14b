// Machine / runtime description for the report header.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function cpuInfo() {
  let model = os.cpus()[0]?.model ?? 'unknown';
  let flags = [];
  try {
    const txt = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.*)$/m.exec(txt)?.[1] ?? model;
    const f = (/^flags\s*:\s*(.*)$/m.exec(txt)?.[1] ?? '').split(/\s+/);
    flags = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_tile'].filter((x) => f.includes(x));
  } catch {}
  return { model, logicalCpus: os.availableParallelism?.() ?? os.cpus().length, flags };
}

// OpenBLAS libraries mapped into this process (basename only), e.g. after loading our addon.
export function mappedBlasLibs() {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = new Set();
    for (const line of maps.split('\n')) {
      const p = line.split(/\s+/)[5];
      if (p && /blas|lapack/i.test(path.basename(p))) libs.add(path.basename(p));
    }
    return [...libs];
  } catch {
    return [];
  }
}

export function blasEnv() {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => /^(OPENBLAS_|OMP_NUM_THREADS|GOTO_NUM_THREADS)/.test(k)),
  );
}

// Machine-wide CPU time (from /proc/stat, seconds) and this process's own CPU time, to tell how
// much other processes (or the hypervisor: steal) took while the benchmark ran.
export function cpuSnapshot() {
  const own = process.cpuUsage();
  const snap = { wall: performance.now() / 1000, own: (own.user + own.system) / 1e6, busy: NaN, steal: NaN };
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const hz = 100; // USER_HZ
    const [user, nice, system, , , irq, softirq, steal] = f;
    snap.busy = (user + nice + system + irq + softirq) / hz;
    snap.steal = (steal ?? 0) / hz;
  } catch {}
  return snap;
}

export function backgroundLoad(a, b, cpus) {
  const wall = b.wall - a.wall;
  const other = (b.busy - a.busy - (b.own - a.own)) / (wall * cpus);
  const steal = (b.steal - a.steal) / (wall * cpus);
  return { seconds: wall, otherPct: Math.max(0, 100 * other), stealPct: 100 * steal };
}
