/**
 * Turns per key: callers of one key go through one at a time, in the order they arrived; callers of
 * different keys never wait on each other. `take(keys)` takes every key's turn in sorted order (so two
 * callers of overlapping keys never wait on each other in a cycle) and resolves with the function
 * that gives them all back (idempotent). A key nobody holds or waits for is forgotten.
 */
export class KeyedTurnstile {
  readonly #lanes = new Map<string, { tail: Promise<void>; users: number }>();

  async take(keys: Iterable<string>): Promise<() => void> {
    const releases: (() => void)[] = [];
    const releaseAll = () => {
      for (const release of releases.splice(0).reverse()) release();
    };
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.#takeOne(key));
    } catch (error) {
      releaseAll();
      throw error;
    }
    return releaseAll;
  }

  async #takeOne(key: string): Promise<() => void> {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { tail: Promise.resolve(), users: 0 };
      this.#lanes.set(key, lane);
    }
    let open: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      open = resolve;
    });
    const before = lane.tail;
    lane.tail = before.then(() => mine);
    lane.users += 1;
    const held = lane;
    await before;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0 && this.#lanes.get(key) === held) this.#lanes.delete(key);
      open();
    };
  }

  /** Keys held or waited for (bounded by the callers in flight). */
  get size(): number {
    return this.#lanes.size;
  }
}
