import { native } from './binding';

// At most as many async calls sit in libuv's thread pool as the compute pool has threads;
// the rest wait here, in order. Queued in libuv instead, they would fill its pool (4
// threads by default), each blocked waiting for a compute slot, and every fs, dns, zlib
// or crypto job of the application would wait behind them (measured: an fs.readFile took
// ~180 ms while 16 attention calls of ~35 ms were pending, instead of ~1 ms).
let running = 0;
const waiting: (() => void)[] = [];
let head = 0; // waiting[head..] are still waiting: a FIFO without O(n) shifts

function acquire(): Promise<void> | null {
  if (running < native.getNumThreads()) {
    running++;
    return null;
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function release(): void {
  if (head < waiting.length) {
    const next = waiting[head++]!; // the slot passes straight to the next call
    if (head === waiting.length) {
      waiting.length = 0;
      head = 0;
    }
    next();
  } else {
    running--;
  }
}

/**
 * Awaits a binding call made with async = true. The stack is captured here, before the
 * work is queued, so a failure points at the caller rather than at an empty async frame.
 */
export async function runAsync(start: () => Promise<void> | undefined): Promise<void> {
  const site = new Error();
  const turn = acquire();
  if (turn) await turn;
  try {
    await start();
  } catch (err) {
    if (err instanceof Error && site.stack) {
      err.stack = `${err.name}: ${err.message}\n${site.stack.split('\n').slice(2).join('\n')}`;
    }
    throw err;
  } finally {
    release();
  }
}
