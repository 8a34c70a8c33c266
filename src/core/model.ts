/** Plain records of the domain model (docs/architecture.md, "The model"). Times are epoch milliseconds. */

export interface Tenant {
  readonly id: string;
  readonly createdAt: number;
}

export interface ApiKeyRecord {
  readonly tenantId: string;
  readonly name: string;
  readonly enabled: boolean;
  /** The names as given (canonical or alias), de-duplicated; expanded by `grantsOf` when used. */
  readonly permissions: readonly string[];
  /** SHA-256 of the token; the token itself is never stored. */
  readonly tokenHash: Buffer;
  /** The first characters of the token, to tell keys apart in a list without revealing them. */
  readonly tokenPrefix: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface StoreRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  /** The service that manages this store (Cloudflare `system/` endpoints), or null. */
  readonly managedBy: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ValidityWindow {
  readonly notBefore: number | null;
  readonly expiresOn: number | null;
}

export interface SecretRecord extends ValidityWindow {
  readonly id: string;
  readonly storeId: string;
  readonly name: string;
  readonly description: string | null;
  readonly scopes: readonly string[];
  /** The version readers see, or null while the secret has no value yet. */
  readonly currentVersion: number | null;
  /** The highest version number ever issued for this secret (never reused). */
  readonly latestVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The sealed form of a value, as the crypto module produced it; opaque outside src/crypto. */
export interface SealedValue {
  readonly kekId: string;
  readonly wrappedKey: Buffer;
  readonly ciphertext: Buffer;
}

export interface VersionRecord extends SealedValue {
  readonly secretId: string;
  readonly version: number;
  readonly createdAt: number;
}

/** One version's wrapped data key with its owner, as master-key rotation reads it (never the ciphertext). */
export interface WrappedKeyRow {
  readonly tenantId: string;
  readonly storeId: string;
  readonly secretId: string;
  readonly version: number;
  readonly kekId: string;
  readonly wrappedKey: Buffer;
}

/** Where a batched walk over versions stopped: the last (secretId, version) seen. */
export interface VersionCursor {
  readonly secretId: string;
  readonly version: number;
}

/** What the hot read path needs in one lookup: the secret's identity, window and current sealed value. */
export interface SecretValueRow extends ValidityWindow {
  readonly storeId: string;
  readonly secretId: string;
  readonly version: number;
  readonly sealed: SealedValue;
}

export interface ServiceCredentialRecord {
  readonly name: string;
  readonly enabled: boolean;
  readonly tokenHash: Buffer;
  readonly tokenPrefix: string;
  readonly createdAt: number;
}

export type SecretOrder = 'name' | 'comment' | 'created' | 'modified' | 'status';

/** One page of a store's secrets; ties are broken by id, so pages never repeat or skip an item. */
export interface SecretListQuery {
  /** Case-insensitive substring of the name or the description. */
  readonly search?: string;
  /** Keep secrets holding any of these scopes. */
  readonly scopes?: readonly string[];
  /** Keep names starting with this prefix (case-sensitive). */
  readonly namePrefix?: string;
  readonly order: SecretOrder;
  readonly direction: 'asc' | 'desc';
  readonly limit: number;
  readonly offset: number;
}

/**
 * A keyset page over names in ordinal (UTF-8 byte) order: the names strictly after `after` that
 * start with `prefix`, at most `limit` of them. Costs O(limit) rows however far into the list it is.
 */
export interface NamePageQuery {
  /** '' for every name. */
  readonly prefix: string;
  /** The last name of the previous page, or null for the first page. */
  readonly after: string | null;
  readonly limit: number;
}

export interface NamePage<T> {
  readonly items: T[];
  /** True when more names follow the last item (engines read `limit + 1` rows to know). */
  readonly more: boolean;
}

/** One page of a manager's stores, ordered by a column, ties by id (Cloudflare `page`/`per_page`). */
export interface StorePageQuery {
  readonly order: 'name' | 'created' | 'modified';
  readonly direction: 'asc' | 'desc';
  readonly limit: number;
  readonly offset: number;
}

export interface StorePage {
  readonly items: StoreRecord[];
  /** How many stores the manager holds, over all pages. */
  readonly total: number;
}

export interface SecretPage {
  readonly items: SecretRecord[];
  /** How many secrets match the filters, over all pages. */
  readonly total: number;
}

/** How an audited call ended: done, refused (a 4xx of any facade), or failed (a 5xx). */
export type AuditOutcome = 'allowed' | 'denied' | 'error';

/**
 * One audit event as stored: a link of its tenant's hash chain (docs/audit.md). Names and ids only:
 * never a value, a token or a header.
 */
export interface AuditEventRecord {
  /**
   * The chain it is a link of (opaque). Since schema 3: one per writing process, tenant and lane
   * (ADR 0011); a chain written before has the tenant id as its id.
   */
  readonly chainId: string;
  /** The tenant whose trail it belongs to, or '' for the platform (unauthenticated callers, services, the CLI's platform work). */
  readonly tenantId: string;
  /** 1, 2, 3… per chain, with no gap. */
  readonly seq: number;
  readonly time: number;
  /** `key:<name>`, `service:<name>`, `operator` or `anonymous`. */
  readonly actor: string;
  /** e.g. `secret.reveal`, `apikey.create`, `request.refused`. */
  readonly action: string;
  /** What was addressed, by name or id, e.g. `store:default/secret:db-password`. */
  readonly resource: string;
  readonly outcome: AuditOutcome;
  /** Why it was refused or failed: a stable error code (`missing_permission`), else null. */
  readonly reason: string | null;
  readonly requestId: string;
  readonly clientAddress: string;
  /** The previous event's hash (32 zero bytes for the first). */
  readonly prevHash: Buffer;
  /** SHA-256(prevHash || canonical form of the fields above; form 2 hashes the chain id too). */
  readonly hash: Buffer;
}

/** The newest link of a chain; seq 0 and 32 zero bytes before the first event. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: Buffer;
}

/** Which chain a writer appends to, and whose trail it is; recorded when the chain is created. */
export interface AuditChainRef {
  readonly chainId: string;
  readonly tenantId: string;
  /** The owning process's writer id; '' for a chain written before schema 3. */
  readonly writerId: string;
}

/** A chain as listed: who owns it and its recorded head (null when the head row is missing). */
export interface AuditChainInfo extends AuditChainRef {
  readonly head: AuditHead | null;
}

/** Which chains `listAuditChains` lists. */
export interface AuditChainFilter {
  readonly tenantId?: string;
  /** Also chains with events but no head row (head: null). Scans the events. */
  readonly withHeadless?: boolean;
}

/** A filtered slice of one chain, in seq order. */
export interface AuditQuery {
  readonly chainId: string;
  readonly direction: 'asc' | 'desc';
  /**
   * Only events with seq below (desc paging; with `afterSeq`, the top of an asc range: the change
   * feed's reads) or above (asc scanning) this.
   */
  readonly beforeSeq?: number;
  readonly afterSeq?: number;
  readonly action?: string;
  readonly actor?: string;
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
  readonly limit: number;
}

/** A position in the order of a tenant's events across its chains: (time, chainId, seq). */
export interface AuditPosition {
  readonly time: number;
  readonly chainId: string;
  readonly seq: number;
}

/** A filtered slice of all of one tenant's chains, in (time, chainId, seq) order. */
export interface TenantAuditQuery {
  readonly tenantId: string;
  readonly direction: 'asc' | 'desc';
  /** Only events strictly after this position in `direction` (the paging cursor). */
  readonly after?: AuditPosition;
  readonly action?: string;
  readonly actor?: string;
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
  readonly limit: number;
}

/**
 * A secret's own version settings (Vault KV v2 metadata, docs/adr/0014-vault-facade.md): every facade's
 * writes honour `maxVersions`; `casRequired` binds writes that can state a version (KV's `cas`).
 */
export interface SecretSettings {
  /** Versions kept (0: the store's setting, else VERSIONS_KEPT). */
  readonly maxVersions: number;
  /** A write must name the version it replaces. */
  readonly casRequired: boolean;
  /** Free key/value metadata (names and words, never values): KV `custom_metadata`. */
  readonly customMetadata: Readonly<Record<string, string>>;
}

/** A store's defaults for its secrets (a KV mount's `config`). */
export interface StoreSettings {
  /** Versions kept per secret (0: VERSIONS_KEPT). */
  readonly maxVersions: number;
  readonly casRequired: boolean;
}

/**
 * The life of one version beyond its sealed value: soft-deleted (no longer readable, restorable)
 * or destroyed (its sealed value is gone for good). A version without a state is live.
 */
export interface VersionState {
  readonly version: number;
  readonly createdAt: number;
  /** When it was soft-deleted; null when live. */
  readonly deletedAt: number | null;
  readonly destroyed: boolean;
}

/**
 * A short-lived token issued by a login (`auth/<mount>/login`, docs/vault.md): bound to one tenant
 * and a set of permission names, refused after `expiresAt` or once deleted (revoked). Only its
 * SHA-256 is stored, as for API keys; the accessor is its public id (audit events, lookups).
 */
export interface IssuedTokenRecord {
  readonly tokenHash: Buffer;
  /** 24 random base62 characters: names the token without revealing it. */
  readonly accessor: string;
  readonly tenantId: string;
  /** The login mount and role that issued it, and the role's user claim value. */
  readonly mount: string;
  readonly role: string;
  readonly subject: string;
  /** The role's permission names (canonical or alias), expanded by `grantsOf` when used. */
  readonly permissions: readonly string[];
  /** What a renewal without an increment extends it by (the role's `token_ttl`), in ms. */
  readonly ttlMs: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Renewals never extend it past this (the role's `token_max_ttl` after issue). */
  readonly maxExpiresAt: number;
  readonly renewedAt: number | null;
}
