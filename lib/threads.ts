// The process-wide compute pool: every call, sync or async and from any worker thread,
// shares its slots, so concurrent calls split the cores instead of oversubscribing them.
import type { CpuInfo } from '../binding';
import { native } from './binding';
import { describe, rangeError, typeError } from './errors';
import { MAX_THREADS } from './limits';

/** Threads the pool may use at once (default: the cores available to the process). */
export function setNumThreads(n: number): void {
  const expected = `an integer in [1, ${MAX_THREADS}]`;
  if (typeof n !== 'number') throw typeError('setNumThreads: n', expected, n);
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw rangeError('setNumThreads: n', expected, describe(n));
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** The linked OpenBLAS: its build configuration and the kernel family it chose for this CPU. */
export function blasInfo(): { config: string; coreName: string; cores: number } {
  return native.blasInfo();
}

/**
 * The instruction set the kernels use on this CPU ('amx', 'avx512', 'avx2' or 'generic'),
 * chosen once by CPU features; NATIVE_ATTENTION_ISA=amx|avx512|avx2|generic at start-up
 * forces one (a path the CPU lacks falls back to the widest it has).
 */
export function cpuInfo(): CpuInfo {
  return native.cpuInfo();
}
