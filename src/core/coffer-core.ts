import type { Keyring } from '../crypto/keyring.js';
import type { Repository } from '../storage/repository.js';
import { ApiKeyService } from './api-key-service.js';
import { AuditService } from './audit-service.js';
import { type AuditSink, AuditTrail } from './audit-trail.js';
import { AuthService } from './auth-service.js';
import { type Clock, systemClock } from './clock.js';
import { SecretService } from './secret-service.js';
import { ServiceCredentialService } from './service-credential-service.js';
import { StoreService } from './store-service.js';

/** Per-tenant limits (COFFER_SECRET_QUOTA, COFFER_STORE_LIMIT). */
export interface TenantLimits {
  readonly secretQuota: number;
  readonly storeLimit: number;
}

export const DEFAULT_LIMITS: TenantLimits = Object.freeze({ secretQuota: 100_000, storeLimit: 1_000 });

/** The core's services, wired once over one repository and keyring; every facade and the CLI use these. */
export interface CofferCore {
  readonly auth: AuthService;
  readonly secrets: SecretService;
  readonly stores: StoreService;
  readonly apiKeys: ApiKeyService;
  readonly services: ServiceCredentialService;
  /** Reading the trail; writing it is each service's own business, through the shared AuditTrail. */
  readonly audit: AuditService;
  /** For facades: refusals that never reached a service (no credential, a malformed request). */
  readonly auditTrail: AuditTrail;
}

export function createCore(deps: {
  repository: Repository;
  keyring: Keyring;
  clock?: Clock;
  limits?: TenantLimits;
  /** Also receives every committed audit event (COFFER_AUDIT_STDOUT). */
  auditSink?: AuditSink;
}): CofferCore {
  const clock = deps.clock ?? systemClock;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const { repository } = deps;
  const audit = new AuditTrail({ repository, clock, ...(deps.auditSink ? { sink: deps.auditSink } : {}) });
  return {
    auth: new AuthService({ repository }),
    secrets: new SecretService({ repository, keyring: deps.keyring, clock, ...limits, audit }),
    stores: new StoreService({ repository, clock, storeLimit: limits.storeLimit, audit }),
    apiKeys: new ApiKeyService({ repository, clock, audit }),
    services: new ServiceCredentialService({ repository, clock, audit }),
    audit: new AuditService({ repository, audit }),
    auditTrail: audit,
  };
}
