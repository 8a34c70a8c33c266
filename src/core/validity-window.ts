import type { ValidityWindow } from './model.js';

/**
 * Whether a value may be given out at `now` (epoch ms): from `notBefore` on (inclusive), until
 * `expiresOn` (exclusive); an absent bound is open. Every read path decides with this one function.
 * A file of its own so that `npm run mutation` mutates exactly it (stryker.config.json).
 */
export function isWithinWindow(window: ValidityWindow, now: number): boolean {
  if (window.notBefore !== null && now < window.notBefore) return false;
  if (window.expiresOn !== null && now >= window.expiresOn) return false;
  return true;
}
