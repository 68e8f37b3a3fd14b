// How many CPUs this process may really use. os.availableParallelism() counts the CPUs
// the process may be scheduled on (its affinity mask), not the time a container's CPU
// quota allows: a container limited to 2 CPUs on a 64-core host sees 64, and 64 compute
// threads then share 2 CPUs' worth of time, each stalled by the throttling in turn.
import fs from 'node:fs';
import os from 'node:os';

/**
 * cgroup v2 `cpu.max`: "max 100000" (no limit) or "<quota> <period>", e.g.
 * "200000 100000" = 2 CPUs, "150000 100000" = 1.5. Returns CPUs, or Infinity.
 */
export function parseCpuMax(text) {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === 'max') return Infinity;
  return cpus(Number(quota), Number(period ?? 100000));
}

/** cgroup v1: cpu.cfs_quota_us (-1 = no limit) over cpu.cfs_period_us. */
export function parseCfs(quotaText, periodText) {
  return cpus(Number(quotaText.trim()), Number(periodText.trim()));
}

function cpus(quota, period) {
  if (!(quota > 0) || !(period > 0)) return Infinity;
  return quota / period;
}

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A cgroup path and its ancestors: a parent's quota limits its children too. */
function withAncestors(dir, mount) {
  const dirs = [];
  for (let d = dir; d.startsWith(mount); d = d.slice(0, d.lastIndexOf('/'))) {
    dirs.push(d);
    if (d === mount) break;
  }
  return dirs;
}

/**
 * The CPU quota of this process's cgroup (v2, else v1), in CPUs, or Infinity when there
 * is none or it cannot be read. `root` and `selfCgroup` are for tests.
 */
export function cgroupCpuLimit({ root = '/sys/fs/cgroup', selfCgroup = read('/proc/self/cgroup') ?? '' } = {}) {
  let limit = Infinity;
  for (const line of selfCgroup.split('\n')) {
    // "0::/path" is v2; "4:cpu,cpuacct:/path" is v1's cpu controller.
    const [id, controllers, rel] = line.split(':');
    if (rel === undefined) continue;
    const sub = rel === '/' ? '' : rel;
    if (id === '0' && controllers === '') {
      // Inside a container the cgroup namespace makes our own cgroup the mount's root.
      for (const dir of withAncestors(`${root}${sub}`, root)) {
        const text = read(`${dir}/cpu.max`);
        if (text) limit = Math.min(limit, parseCpuMax(text));
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of [`${root}/cpu`, `${root}/cpu,cpuacct`, `${root}/cpuacct,cpu`]) {
        for (const dir of withAncestors(`${mount}${sub}`, mount)) {
          const quota = read(`${dir}/cpu.cfs_quota_us`);
          const period = read(`${dir}/cpu.cfs_period_us`);
          if (quota && period) limit = Math.min(limit, parseCfs(quota, period));
        }
      }
    }
  }
  return limit;
}

/**
 * Whole CPUs to use: the cgroup quota rounded down (a quota of 1.5 CPUs would throttle a
 * second thread half the time), at least 1, never above the CPUs we may run on.
 */
export function cpuQuota(options) {
  const affinity = os.availableParallelism();
  const limit = cgroupCpuLimit(options);
  return Math.max(1, Math.min(affinity, Math.floor(limit)));
}
