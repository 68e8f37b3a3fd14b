// Machine / runtime description for the report header.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function cpuInfo() {
  let model = os.cpus()[0]?.model ?? 'unknown';
  let flags = [];
  let all = [],
    vendor = '',
    family = NaN,
    modelNumber = NaN;
  try {
    const txt = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.*)$/m.exec(txt)?.[1] ?? model;
    vendor = /^vendor_id\s*:\s*(.*)$/m.exec(txt)?.[1] ?? '';
    family = Number(/^cpu family\s*:\s*(\d+)/m.exec(txt)?.[1]);
    modelNumber = Number(/^model\s*:\s*(\d+)/m.exec(txt)?.[1]);
    all = (/^flags\s*:\s*(.*)$/m.exec(txt)?.[1] ?? '').split(/\s+/);
    flags = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile'].filter((x) =>
      all.includes(x),
    );
  } catch {}
  const uarch = microarchitecture(vendor, family, modelNumber, all);
  return {
    model,
    vendor,
    family,
    modelNumber,
    uarch,
    slug: cpuSlug(model, uarch),
    logicalCpus: os.availableParallelism?.() ?? os.cpus().length,
    flags,
  };
}

// A name for the CPU's family, for result file names: from the model number where it is a known
// server part, else from the features (hypervisors often report a generic model name and number,
// e.g. "Intel(R) Xeon(R) Processor" with a client model number on a Sapphire Rapids host).
function microarchitecture(vendor, family, model, f) {
  const has = (x) => f.includes(x);
  if (vendor === 'GenuineIntel' && family === 6) {
    const known = { 143: 'sapphire-rapids', 207: 'emerald-rapids', 173: 'granite-rapids', 106: 'ice-lake', 108: 'ice-lake' }[
      model
    ];
    if (known) return known;
    if (has('amx_fp16')) return 'granite-rapids';
    if (has('amx_tile')) return 'sapphire-rapids';
    if (has('avx512_bf16')) return 'cooper-lake';
    if (has('avx512_vbmi2')) return 'ice-lake';
    if (has('avx512_vnni')) return 'cascade-lake';
    if (has('avx512f')) return 'skylake';
    return has('avx2') ? 'haswell-class' : null;
  }
  if (vendor === 'AuthenticAMD') {
    if (family === 26) return 'zen5';
    if (family === 25) return has('avx512f') ? 'zen4' : 'zen3';
    if (family === 23) return model >= 0x30 ? 'zen2' : 'zen1';
  }
  return null;
}

export function cpuSlug(model, uarch) {
  const base =
    String(model)
      .toLowerCase()
      .replace(/\((r|tm)\)/g, ' ')
      .replace(/@.*$/, ' ')
      .replace(/\b(processor|cpu|\d+-core)\b/g, ' ')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'unknown-cpu';
  return uarch && !base.includes(uarch) ? `${base}-${uarch}` : base;
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
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(OPENBLAS_|OMP_NUM_THREADS|GOTO_NUM_THREADS)/.test(k)));
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
