import type { Keyring } from '../crypto/keyring.js';
import type { Repository } from './ports/repository.js';
import { ApiKeyService } from './api-key-service.js';
import { AuditService } from './audit-service.js';
import { type AuditSink, AuditTrail } from './audit-trail.js';
import { AuthService } from './auth-service.js';
import { ChangeFeed } from './change-feed.js';
import { ChangeWatchService, type WatchLimits } from './change-watch-service.js';
import type { ChangeSignals } from './ports/change-signals.js';
import type { BearerVerifier } from './bearer-verifier.js';
import { type Clock, systemClock } from './clock.js';
import { type MetricsSink, NO_METRICS } from './metrics-sink.js';
import { PageCursors } from './page-cursors.js';
import { FailureLimiter, RequestRateLimiter } from './rate-limits.js';
import { SecretService } from './secret-service.js';
import { KvSecrets } from './secrets/kv-secrets.js';
import { ServiceCredentialService } from './service-credential-service.js';
import { StoreService } from './store-service.js';
import { WebhookService } from './webhooks/webhook-service.js';
import type { JwtAuthMount, LoginJwtVerifier } from './jwt-login.js';
import { TokenService } from './token-service.js';

/** Per-tenant limits (COFFER_SECRET_QUOTA, COFFER_STORE_LIMIT). */
export interface TenantLimits {
  readonly secretQuota: number;
  readonly storeLimit: number;
}

export const DEFAULT_LIMITS: TenantLimits = Object.freeze({ secretQuota: 100_000, storeLimit: 1_000 });

/** Abuse limits (COFFER_AUTH_FAILURE_LIMIT, COFFER_KEY_RATE_LIMIT); 0 turns one off. */
export interface RateLimits {
  /** Failed authentications per client address per minute. */
  readonly authFailuresPerMinute: number;
  /** Requests per second per API key or service credential. */
  readonly keyRequestsPerSecond: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  authFailuresPerMinute: 20,
  keyRequestsPerSecond: 0,
});

/** The core's services, wired once over one repository and keyring; every facade and the CLI use these. */
export interface CofferCore {
  readonly auth: AuthService;
  readonly secrets: SecretService;
  /** Versions, soft delete, settings and paths of secrets, as the Vault KV v2 facade speaks them. */
  readonly kv: KvSecrets;
  readonly stores: StoreService;
  readonly apiKeys: ApiKeyService;
  readonly services: ServiceCredentialService;
  /** Tokens issued by a login, and what a credential says of itself (docs/vault.md). */
  readonly tokens: TokenService;
  /** Reading the trail; writing it is each service's own business, through the shared AuditTrail. */
  readonly audit: AuditService;
  /** For facades: refusals that never reached a service (no credential, a malformed request). */
  readonly auditTrail: AuditTrail;
  /** Opaque, authenticated cursors for keyset lists (`/v1` paging). */
  readonly pageCursors: PageCursors;
  /** Change events derived from the audit chains, with their wake-ups (docs/notifications.md). */
  readonly changeFeed: ChangeFeed;
  /** Webhook management (admins only); delivery is src/webhooks/ (docs/notifications.md). */
  readonly webhooks: WebhookService;
  /** Opening change streams: permission, audit, limits (the SSE routes, `coffer run --watch`). */
  readonly watch: ChangeWatchService;
}

export function createCore(deps: {
  repository: Repository;
  keyring: Keyring;
  clock?: Clock;
  limits?: TenantLimits;
  /** Verifies OIDC bearer tokens (docs/oidc.md); absent: Coffer tokens only. */
  bearerVerifier?: BearerVerifier;
  /** Where the core reports cache hits and audit-write failures (docs/observability.md). */
  metrics?: MetricsSink;
  rateLimits?: RateLimits;
  /** Also receives every committed audit event (COFFER_AUDIT_STDOUT). */
  auditSink?: AuditSink;
  /** Other nodes' commits (PostgreSQL LISTEN/NOTIFY); absent: polling only (ADR 0016). */
  changeSignals?: ChangeSignals;
  /** How often watched tenants' chain heads are polled while `changeSignals` is not live (ms). */
  changePollMs?: number;
  /** COFFER_WEBHOOKS_ALLOW_PRIVATE: webhooks may point at loopback, private and link-local addresses. */
  webhooksAllowPrivate?: boolean;
  /** Open change streams per tenant and per key (COFFER_WATCH_LIMIT_TENANT, COFFER_WATCH_LIMIT_KEY). */
  watchLimits?: WatchLimits;
  /** Heartbeat period of change streams, ms (COFFER_WATCH_HEARTBEAT_SECONDS). */
  watchHeartbeatMs?: number;
  /** JWT login mounts and the verifier of their JWTs (COFFER_JWT_AUTH); absent: no login path. */
  jwtLogin?: { mounts: ReadonlyMap<string, JwtAuthMount>; verifier: LoginJwtVerifier };
}): CofferCore {
  const clock = deps.clock ?? systemClock;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const rate = deps.rateLimits ?? DEFAULT_RATE_LIMITS;
  const { repository } = deps;
  const metrics = deps.metrics ?? NO_METRICS;
  const audit = new AuditTrail({
    repository,
    clock,
    metrics,
    ...(deps.auditSink ? { sink: deps.auditSink } : {}),
  });
  const changeFeed = new ChangeFeed({
    reads: repository,
    commits: audit,
    ...(deps.changeSignals === undefined ? {} : { signals: deps.changeSignals }),
    ...(deps.changePollMs === undefined ? {} : { pollMs: deps.changePollMs }),
  });
  // One limiter for every way of authenticating: a refused login counts as a failed token does.
  const failures =
    rate.authFailuresPerMinute > 0
      ? new FailureLimiter({ limit: rate.authFailuresPerMinute, clock: systemClock })
      : null;
  // One request budget per credential, shared with logins: a workload logs in on its own budget.
  const perKey =
    rate.keyRequestsPerSecond > 0
      ? new RequestRateLimiter({ perSecond: rate.keyRequestsPerSecond, clock: systemClock })
      : null;
  return {
    auth: new AuthService({
      repository,
      metrics,
      clock,
      bearerVerifier: deps.bearerVerifier,
      failures,
      perKey,
    }),
    secrets: new SecretService({ repository, keyring: deps.keyring, clock, ...limits, audit }),
    kv: new KvSecrets({ repository, keyring: deps.keyring, clock, ...limits, audit }),
    stores: new StoreService({ repository, clock, storeLimit: limits.storeLimit, audit }),
    apiKeys: new ApiKeyService({ repository, clock, audit }),
    services: new ServiceCredentialService({ repository, clock, audit }),
    tokens: new TokenService({
      repository,
      clock,
      audit,
      mounts: deps.jwtLogin?.mounts ?? new Map(),
      verifier: deps.jwtLogin?.verifier ?? null,
      failures,
      perKey,
    }),
    audit: new AuditService({ repository, audit }),
    auditTrail: audit,
    pageCursors: new PageCursors(deps.keyring),
    changeFeed,
    webhooks: new WebhookService({
      repository,
      keyring: deps.keyring,
      clock,
      audit,
      events: changeFeed,
      allowPrivate: deps.webhooksAllowPrivate ?? false,
    }),
    watch: new ChangeWatchService({
      repository,
      feed: changeFeed,
      audit,
      clock,
      metrics,
      ...(deps.watchLimits === undefined ? {} : { limits: deps.watchLimits }),
      ...(deps.watchHeartbeatMs === undefined ? {} : { heartbeatMs: deps.watchHeartbeatMs }),
    }),
  };
}
