/**
 * What the core reports for monitoring. The core never imports a metrics library: the composition
 * root injects an implementation (src/metrics/prometheus-metrics.ts) or nothing (NO_METRICS).
 * Methods are fire-and-forget and must be cheap; they sit on the authenticated read path.
 */
export interface MetricsSink {
  /** A Coffer-token lookup answered from AuthService's cache (`hit`) or the database (`miss`). */
  tokenCache(result: 'hit' | 'miss'): void;
  /**
   * An audit event could not be written (coffer_audit_write_failures_total). For the audit trail:
   * call it wherever a write of an audit event fails, whatever the request's outcome then is.
   */
  auditWriteFailed(): void;
  /** A change stream opened (+1) or closed (-1): coffer_change_subscribers. */
  changeSubscribers(delta: number): void;
  /**
   * A batch of `count` change events sent to a subscriber, the oldest `oldestLagSeconds` after its
   * commit (coffer_change_events_sent_total, coffer_change_event_lag_seconds: one observation per batch).
   */
  changeEventsSent(count: number, oldestLagSeconds: number): void;
}

export const NO_METRICS: MetricsSink = Object.freeze({
  tokenCache: () => undefined,
  auditWriteFailed: () => undefined,
  changeSubscribers: () => undefined,
  changeEventsSent: () => undefined,
});
