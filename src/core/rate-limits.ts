import type { Clock } from './clock.js';

/**
 * In-memory, per-process rate limits (docs/security.md, "Caches" and "Brute force"). Both maps are
 * bounded: when full, the entry touched least recently goes first, so a flood of new addresses
 * cannot grow memory; it can at worst make the limiter forget an address early.
 */
const DEFAULT_MAX_ENTRIES = 10_000;

function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

/**
 * Failed authentications per client address, in fixed windows: after `limit` failures in one
 * window the address is refused until the window ends. Successes are never counted, so a valid key
 * is never slowed by its own use.
 */
export class FailureLimiter {
  readonly #entries = new Map<string, { windowStart: number; failures: number }>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #max: number;
  readonly #clock: Clock;

  constructor(options: { limit: number; windowMs?: number; maxEntries?: number; clock: Clock }) {
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#clock = options.clock;
  }

  /** Seconds until `client` may try again; 0 when it may now. */
  blockedFor(client: string): number {
    const entry = this.#entries.get(client);
    if (entry === undefined || entry.failures < this.#limit) return 0;
    const left = entry.windowStart + this.#windowMs - this.#clock.now();
    if (left <= 0) {
      this.#entries.delete(client);
      return 0;
    }
    return left / 1000;
  }

  /** When `client` is blocked: the seconds left and the instant (epoch ms) the block ends; else null. */
  blocked(client: string): { readonly seconds: number; readonly until: number } | null {
    const seconds = this.blockedFor(client);
    if (seconds === 0) return null;
    return { seconds, until: this.#clock.now() + seconds * 1000 };
  }

  recordFailure(client: string): void {
    const now = this.#clock.now();
    const entry = this.#entries.get(client);
    if (entry === undefined || now - entry.windowStart >= this.#windowMs) {
      touch(this.#entries, client, { windowStart: now, failures: 1 }, this.#max);
    } else {
      entry.failures += 1;
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * Requests per second per credential: a token bucket holding one second's worth of requests, so a
 * burst up to the rate passes and a steady stream above it is refused.
 */
export class RequestRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perSecond: number;
  readonly #max: number;
  readonly #clock: Clock;

  constructor(options: { perSecond: number; maxEntries?: number; clock: Clock }) {
    this.#perSecond = options.perSecond;
    this.#max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#clock = options.clock;
  }

  /** Takes one request's token: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key);
    let tokens = this.#perSecond;
    if (bucket !== undefined) {
      tokens = Math.min(this.#perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    }
    if (tokens < 1) {
      if (bucket !== undefined) {
        bucket.tokens = tokens;
        bucket.at = now;
      }
      return (1 - tokens) / this.#perSecond;
    }
    touch(this.#buckets, key, { tokens: tokens - 1, at: now }, this.#max);
    return 0;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
