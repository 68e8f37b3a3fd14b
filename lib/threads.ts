// The process-wide compute pool: every call, sync or async and from any worker thread,
// shares its slots, so concurrent calls split the cores instead of oversubscribing them.
import { native } from './binding';
import { describe, rangeError, typeError } from './errors';

/** Threads the pool may use at once (default: the cores available to the process). */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number') throw typeError('setNumThreads: n', 'an integer in [1, 256]', n);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw rangeError('setNumThreads: n', 'an integer in [1, 256]', describe(n));
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** The linked OpenBLAS: its build configuration and the kernel family it chose for this CPU. */
export function blasInfo(): { config: string; coreName: string; cores: number } {
  return native.blasInfo();
}
