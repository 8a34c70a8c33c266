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
}

export const NO_METRICS: MetricsSink = Object.freeze({
  tokenCache: () => undefined,
  auditWriteFailed: () => undefined,
});
