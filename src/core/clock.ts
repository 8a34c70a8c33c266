/** Time as the core sees it; tests pass their own to move through validity windows. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
