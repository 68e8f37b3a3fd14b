/**
 * Awaits a binding call made with async = true. The stack is captured here, before the
 * work is queued, so a failure points at the caller rather than at an empty async frame.
 */
export async function runAsync(start: () => Promise<void> | undefined): Promise<void> {
  const site = new Error();
  try {
    await start();
  } catch (err) {
    if (err instanceof Error && site.stack) {
      err.stack = `${err.name}: ${err.message}\n${site.stack.split('\n').slice(2).join('\n')}`;
    }
    throw err;
  }
}
