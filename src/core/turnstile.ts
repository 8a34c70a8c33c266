/**
 * Lets callers through one at a time, in the order they arrived: `take()` resolves once every earlier
 * holder has released, with the function that releases this turn (idempotent).
 */
export class Turnstile {
  #tail: Promise<void> = Promise.resolve();

  async take(): Promise<() => void> {
    let open: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      open = resolve;
    });
    const before = this.#tail;
    this.#tail = before.then(() => mine);
    await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      open();
    };
  }
}
