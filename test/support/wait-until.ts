/**
 * Waits (generously) until `done()` holds: re-checked whenever the caller calls one of `waiters` (on
 * news: a request, a chunk) and every 100 ms; after `timeoutMs`, throws naming `what` and `seen()`.
 */
export async function waitUntil(
  done: () => boolean,
  waiters: Set<() => void>,
  what: string,
  seen: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${seen()}`);
    await new Promise<void>((resolve) => {
      const wake = () => {
        waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(wake, 100);
      waiters.add(wake);
    });
  }
}
