import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsSink } from '../core/metrics-sink.js';
import type { DbTimer } from '../storage/instrumented-repository.js';
import type { WebhookMetrics } from '../webhooks/webhook-dispatcher.js';

/** Sub-millisecond resolution at the low end: a cached read answers in well under a millisecond. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** From "at once" (the same node) to "the poll interval or a reconnection later". */
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const DB_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

interface Observer {
  observe(value: number): void;
}
interface Incrementer {
  inc(value?: number): void;
}

/**
 * Every Coffer metric, in a registry of its own (never prom-client's global one, so several servers
 * in one process, as in the tests, do not collide). Label values are route templates, method names
 * and fixed reason words: never a tenant id, a secret name, a value or a token (docs/observability.md).
 *
 * Label children are looked up once and kept: prom-client hashes a label object on every call
 * otherwise, and the request histogram is observed on every request.
 */
export class PrometheusMetrics implements MetricsSink, DbTimer, WebhookMetrics {
  readonly registry = new Registry();
  readonly #httpDuration: Histogram<'facade' | 'route' | 'method' | 'status'>;
  readonly #authFailures: Counter<'facade' | 'reason'>;
  readonly #tokenCache: Counter<'result'>;
  readonly #auditWriteFailures: Counter;
  readonly #dbDuration: Histogram<'operation'>;
  readonly #changeSubscribers: Gauge;
  readonly #changeEventsSent: Counter;
  readonly #changeLag: Histogram;
  readonly #httpChildren = new Map<string, Observer>();
  readonly #dbChildren = new Map<string, Observer>();
  readonly #authChildren = new Map<string, Incrementer>();
  readonly #cacheHit: Incrementer;
  readonly #cacheMiss: Incrementer;
  readonly #webhookAttempts: Record<'delivered' | 'retry' | 'failed', Incrementer>;
  readonly #webhookLag: Histogram;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#httpDuration = new Histogram({
      name: 'coffer_http_request_duration_seconds',
      help: 'HTTP requests by facade, route template, method and status: latency in seconds (its _count is the request count).',
      labelNames: ['facade', 'route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#authFailures = new Counter({
      name: 'coffer_auth_failures_total',
      help: 'Requests refused with 401, by facade and reason.',
      labelNames: ['facade', 'reason'],
      registers,
    });
    this.#tokenCache = new Counter({
      name: 'coffer_token_cache_total',
      help: 'Coffer-token lookups answered from the in-process cache (hit) or the database (miss).',
      labelNames: ['result'],
      registers,
    });
    this.#auditWriteFailures = new Counter({
      name: 'coffer_audit_write_failures_total',
      help: 'Audit events that could not be written.',
      registers,
    });
    this.#dbDuration = new Histogram({
      name: 'coffer_db_operation_duration_seconds',
      help: 'Repository calls by operation (a method name, or transaction for a whole transaction): latency in seconds.',
      labelNames: ['operation'],
      buckets: DB_BUCKETS,
      registers,
    });
    this.#changeSubscribers = new Gauge({
      name: 'coffer_change_subscribers',
      help: 'Change streams (SSE) open on this node.',
      registers,
    });
    this.#changeEventsSent = new Counter({
      name: 'coffer_change_events_sent_total',
      help: 'Change events sent to change-stream subscribers.',
      registers,
    });
    this.#changeLag = new Histogram({
      name: 'coffer_change_event_lag_seconds',
      help: 'From the commit of a change to its event being sent to a subscriber, in seconds: one observation per batch sent, its oldest event.',
      buckets: LAG_BUCKETS,
      registers,
    });
    // Present from the start at 0, so rates and ratios are defined before the first event.
    this.#cacheHit = this.#tokenCache.labels('hit');
    this.#cacheMiss = this.#tokenCache.labels('miss');
    this.#cacheHit.inc(0);
    this.#cacheMiss.inc(0);
    const attempts = new Counter({
      name: 'coffer_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (failed, tried again later) or failed (given up after the retry window).',
      labelNames: ['outcome'],
      registers,
    });
    this.#webhookAttempts = {
      delivered: attempts.labels('delivered'),
      retry: attempts.labels('retry'),
      failed: attempts.labels('failed'),
    };
    for (const child of Object.values(this.#webhookAttempts)) child.inc(0);
    this.#webhookLag = new Histogram({
      name: 'coffer_webhook_delivery_lag_seconds',
      help: "Seconds from a change's commit to its successful webhook delivery (retries included).",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    });
  }

  webhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void {
    this.#webhookAttempts[outcome].inc();
  }

  webhookLag(seconds: number): void {
    this.#webhookLag.observe(seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  observeRequest(facade: string, route: string, method: string, status: number, seconds: number): void {
    const key = `${facade} ${method} ${status} ${route}`;
    let child = this.#httpChildren.get(key);
    if (child === undefined) {
      child = this.#httpDuration.labels(facade, route, method, String(status));
      this.#httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  authFailure(facade: string, reason: string): void {
    const key = `${facade} ${reason}`;
    let child = this.#authChildren.get(key);
    if (child === undefined) {
      child = this.#authFailures.labels(facade, reason);
      this.#authChildren.set(key, child);
    }
    child.inc();
  }

  tokenCache(result: 'hit' | 'miss'): void {
    (result === 'hit' ? this.#cacheHit : this.#cacheMiss).inc();
  }

  auditWriteFailed(): void {
    this.#auditWriteFailures.inc();
  }

  changeSubscribers(delta: number): void {
    this.#changeSubscribers.inc(delta);
  }

  changeEventsSent(count: number, oldestLagSeconds: number): void {
    this.#changeEventsSent.inc(count);
    this.#changeLag.observe(Math.max(0, oldestLagSeconds));
  }

  observeDb(operation: string, seconds: number): void {
    let child = this.#dbChildren.get(operation);
    if (child === undefined) {
      child = this.#dbDuration.labels(operation);
      this.#dbChildren.set(operation, child);
    }
    child.observe(seconds);
  }
}
