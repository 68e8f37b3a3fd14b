// Async calls: the native side copies the inputs and snapshots the weights when the call
// is made, queues the work on its own compute pool (never libuv's thread pool, so the
// application's fs, dns, zlib and crypto work never waits behind attention) and settles
// the Promise on this thread.

import type { Tensor } from './tensor';

/**
 * The result function of an async call that returns one tensor. A module-level function,
 * so that the closure holds the output only: made inside the caller's async method, it
 * would hold that call's context, inputs included, until the call settles.
 */
export function tensorResult(data: Float32Array, shape: number[]): () => Tensor {
  return () => ({ data, shape });
}

/**
 * Starts a native async call and returns a Promise of its result. `start` validates,
 * calls the binding and returns its Promise plus a function that builds the result from
 * the outputs only: nothing retains the inputs while the call is queued or running.
 * Validation errors reject (they do not throw synchronously). The stack is captured
 * here, before the work is queued, so a failure points at the caller rather than at an
 * empty async frame.
 */
export function runAsync<T>(start: () => readonly [Promise<void>, () => T]): Promise<T> {
  const site = new Error();
  let pending: Promise<void>;
  let finish: () => T;
  try {
    [pending, finish] = start();
  } catch (err) {
    return Promise.reject(err);
  }
  return pending.then(finish, (err: unknown) => {
    if (err instanceof Error && site.stack) {
      err.stack = `${err.name}: ${err.message}\n${site.stack.split('\n').slice(2).join('\n')}`;
    }
    throw err;
  });
}
