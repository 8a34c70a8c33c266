import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { UnavailableError } from '../../core/errors.js';
import type {
  ApiKeyRecord,
  AuditEventRecord,
  AuditHead,
  AuditQuery,
  NamePage,
  NamePageQuery,
  SecretListQuery,
  SecretPage,
  SecretRecord,
  SecretValueRow,
  ServiceCredentialRecord,
  StorePage,
  StorePageQuery,
  StoreRecord,
  Tenant,
  VersionCursor,
  VersionRecord,
  WrappedKeyRow,
} from '../../core/model.js';
import { nameRange } from '../name-range.js';
import type { Repository, RepositoryReads, RepositoryTx } from '../repository.js';
import { RepositoryReadsForwarder } from '../repository-reads-forwarder.js';
import { type Row, rowMappers } from '../row-mappers.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';

type Db = Database.Database;

/** SQLite has no booleans (0/1) and no arrays (lists are JSON text). */
const { str, num, numOrNull, blob, toApiKey, toService, toStore, toSecret, toVersion, toAuditEvent } =
  rowMappers({
    engine: 'sqlite',
    integer: (v) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined),
    boolean: (v) => (v === 0 || v === 1 ? v === 1 : undefined),
    strings: (v) => {
      if (typeof v !== 'string') return undefined;
      const parsed: unknown = JSON.parse(v);
      return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : undefined;
    },
  });

const AUDIT_COLUMNS =
  'tenant_id, seq, time, actor, action, resource, outcome, reason, request_id, client_address, prev_hash, hash';

const ORDER_COLUMNS: Record<SecretListQuery['order'], string> = {
  name: 'name',
  comment: "coalesce(description, '')",
  created: 'created_at',
  modified: 'updated_at',
  // Every listed secret with a value is active and one without is pending: order by that.
  status: '(current_version IS NULL)',
};

const STORE_ORDER_COLUMNS: Record<StorePageQuery['order'], string> = {
  name: 'name',
  created: 'created_at',
  modified: 'updated_at',
};

/** `LIKE` pattern matching `text` literally anywhere (escape char `\`). */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A statement prepared on its first use, so that opening a connection prepares none of the ~55: the
 * CLI opens two connections for each command and one command uses a handful (BENCHMARKS.md).
 */
class StatementOnFirstUse {
  readonly #db: Db;
  readonly #sql: string;
  #pluck = false;
  #statement: Database.Statement | null = null;

  constructor(db: Db, sql: string) {
    this.#db = db;
    this.#sql = sql;
  }

  /** As better-sqlite3's `pluck()`: rows come back as their first column. */
  pluck(): this {
    this.#pluck = true;
    return this;
  }

  #prepared(): Database.Statement {
    if (this.#statement === null) {
      const statement = this.#db.prepare(this.#sql);
      this.#statement = this.#pluck ? statement.pluck() : statement;
    }
    return this.#statement;
  }

  run(...params: unknown[]): Database.RunResult {
    return this.#prepared().run(...params);
  }

  get(...params: unknown[]): unknown {
    return this.#prepared().get(...params);
  }

  all(...params: unknown[]): unknown[] {
    return this.#prepared().all(...params);
  }
}

/** Prepared statements bound to one connection; the reader and the writer each have their own. */
class SqliteStatements implements RepositoryTx {
  readonly #s;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
    const p = (sql: string) => new StatementOnFirstUse(db, sql);
    this.#s = {
      getTenant: p('SELECT id, created_at FROM tenants WHERE id = ?'),
      ensureTenant: p('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),
      countApiKeys: p('SELECT count(*) AS n FROM api_keys').pluck(),
      findApiKeyByHash: p('SELECT * FROM api_keys WHERE token_hash = ?'),
      getApiKey: p('SELECT * FROM api_keys WHERE tenant_id = ? AND name = ?'),
      listApiKeys: p('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY name'),
      insertApiKey: p(
        `INSERT INTO api_keys (tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      updateApiKey: p(
        'UPDATE api_keys SET enabled = ?, permissions = ?, updated_at = ? WHERE tenant_id = ? AND name = ? RETURNING *',
      ),
      deleteApiKey: p('DELETE FROM api_keys WHERE tenant_id = ? AND name = ?'),
      findServiceByHash: p('SELECT * FROM service_credentials WHERE token_hash = ?'),
      listServices: p('SELECT * FROM service_credentials ORDER BY name'),
      insertService: p(
        `INSERT INTO service_credentials (name, token_hash, token_prefix, enabled, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      setServiceEnabled: p('UPDATE service_credentials SET enabled = ? WHERE name = ?'),
      deleteService: p('DELETE FROM service_credentials WHERE name = ? RETURNING *'),
      countStores: p('SELECT count(*) FROM stores WHERE tenant_id = ?').pluck(),
      deleteStoreVersions: p(
        'DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE store_id = ?)',
      ),
      deleteStoreSecrets: p('DELETE FROM secrets WHERE store_id = ?'),
      deleteStore: p('DELETE FROM stores WHERE id = ?'),
      getSecretById: p('SELECT * FROM secrets WHERE store_id = ? AND id = ?'),
      countSecretsInStore: p('SELECT count(*) FROM secrets WHERE store_id = ?').pluck(),
      countSecretsInTenant: p(
        'SELECT count(*) FROM secrets s JOIN stores st ON st.id = s.store_id WHERE st.tenant_id = ?',
      ).pluck(),
      getVersion: p('SELECT * FROM secret_versions WHERE secret_id = ? AND version = ?'),
      updateSecretMetadata: p('UPDATE secrets SET description = ?, scopes = ?, updated_at = ? WHERE id = ?'),
      getStoreByName: p('SELECT * FROM stores WHERE tenant_id = ? AND managed_by = ? AND name = ?'),
      getStoreById: p('SELECT * FROM stores WHERE tenant_id = ? AND id = ?'),
      listStores: p('SELECT * FROM stores WHERE tenant_id = ? ORDER BY created_at, id'),
      insertStore: p(
        `INSERT INTO stores (id, tenant_id, name, managed_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      getSecret: p('SELECT * FROM secrets WHERE store_id = ? AND name = ?'),
      listSecretNamesWithValue: p(
        'SELECT name FROM secrets WHERE store_id = ? AND current_version IS NOT NULL ORDER BY name',
      ).pluck(),
      getCurrentValue: p(
        `SELECT st.id AS store_id, s.id AS secret_id, s.not_before, s.expires_on,
                v.version, v.kek_id, v.wrapped_key, v.ciphertext
           FROM stores st
           JOIN secrets s ON s.store_id = st.id AND s.name = ?
           JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version
          WHERE st.tenant_id = ? AND st.managed_by = '' AND st.name = ?`,
      ),
      listVersions: p('SELECT * FROM secret_versions WHERE secret_id = ? ORDER BY version'),
      insertSecret: p(
        `INSERT INTO secrets (id, store_id, name, description, scopes, not_before, expires_on,
                              current_version, latest_version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      allocateVersion: p(
        'UPDATE secrets SET latest_version = latest_version + 1 WHERE id = ? RETURNING latest_version',
      ).pluck(),
      insertVersion: p(
        `INSERT INTO secret_versions (secret_id, version, kek_id, wrapped_key, ciphertext, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      setCurrentVersion: p(
        'UPDATE secrets SET current_version = ?, not_before = ?, expires_on = ?, updated_at = ? WHERE id = ?',
      ),
      // Everything older than the keep-th newest version: a range on the primary key (NULL, so
      // nothing, while fewer versions exist).
      pruneVersions: p(
        `DELETE FROM secret_versions WHERE secret_id = ? AND version <
           (SELECT version FROM secret_versions WHERE secret_id = ? ORDER BY version DESC LIMIT 1 OFFSET ?)`,
      ),
      deleteVersions: p('DELETE FROM secret_versions WHERE secret_id = ?'),
      deleteSecret: p('DELETE FROM secrets WHERE id = ?'),
      hasSealedValues: p('SELECT EXISTS (SELECT 1 FROM secret_versions) AS x').pluck(),
      listKekIdsInUse: p('SELECT DISTINCT kek_id FROM secret_versions ORDER BY kek_id').pluck(),
      // Row-value comparison walks the (secret_id, version) primary key from the cursor on.
      listWrappedKeys: p(
        `SELECT st.tenant_id, s.store_id, v.secret_id, v.version, v.kek_id, v.wrapped_key
           FROM secret_versions v
           JOIN secrets s ON s.id = v.secret_id
           JOIN stores st ON st.id = s.store_id
          WHERE v.kek_id = ? AND (v.secret_id, v.version) > (?, ?)
          ORDER BY v.secret_id, v.version
          LIMIT ?`,
      ),
      rewrapVersion: p(
        `UPDATE secret_versions SET kek_id = ?, wrapped_key = ?
          WHERE secret_id = ? AND version = ? AND kek_id = ?`,
      ),
      getMeta: p('SELECT value FROM coffer_meta WHERE key = ?').pluck(),
      setMeta: p(
        'INSERT INTO coffer_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      getAuditHead: p('SELECT seq, hash FROM audit_heads WHERE tenant_id = ?'),
      insertAuditEvent: p(
        `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      setAuditHead: p(
        `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
      ),
      listAuditChains: p(
        'SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM audit_events ORDER BY 1',
      ).pluck(),
      ping: p('SELECT 1').pluck(),
      bumpCredentialsEpoch: p(
        `INSERT INTO coffer_meta (key, value) VALUES ('credentials_epoch', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
      ),
      credentialsEpoch: p(
        "SELECT CAST(value AS INTEGER) FROM coffer_meta WHERE key = 'credentials_epoch'",
      ).pluck(),
      dataVersion: p('PRAGMA data_version').pluck(),
    };
  }

  ping(): void {
    this.#s.ping.get();
  }

  /** Changes whenever any connection (this or another process) commits. Cheap: no disk read. */
  dataVersion(): number {
    return this.#s.dataVersion.get() as number;
  }

  storedCredentialsEpoch(): number {
    const v = this.#s.credentialsEpoch.get();
    return typeof v === 'number' ? v : 0;
  }

  /** Set when this connection changed a credential; the repository reads and clears it after COMMIT. */
  credentialsTouched = false;

  /**
   * Set when this connection destroyed or replaced sealed bytes (a version's ciphertext or wrapped
   * key): the repository then empties the WAL after COMMIT, which still holds the frames that wrote
   * them (docs/adr/0008-deletion-leaves-no-ciphertext.md).
   */
  sealedBytesRemoved = false;

  #credentialsChanged(): void {
    this.#s.bumpCredentialsEpoch.run();
    this.credentialsTouched = true;
  }

  async findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null> {
    const row = this.#s.findServiceByHash.get(tokenHash) as Row | undefined;
    return row ? toService(row) : null;
  }
  async listServices(): Promise<ServiceCredentialRecord[]> {
    return (this.#s.listServices.all() as Row[]).map(toService);
  }
  async insertService(c: ServiceCredentialRecord): Promise<boolean> {
    const r = this.#s.insertService.run(c.name, c.tokenHash, c.tokenPrefix, c.enabled ? 1 : 0, c.createdAt);
    if (r.changes === 1) this.#credentialsChanged();
    return r.changes === 1;
  }
  async setServiceEnabled(name: string, enabled: boolean): Promise<boolean> {
    const changed = this.#s.setServiceEnabled.run(enabled ? 1 : 0, name).changes === 1;
    if (changed) this.#credentialsChanged();
    return changed;
  }
  async deleteService(name: string): Promise<ServiceCredentialRecord | null> {
    const row = this.#s.deleteService.get(name) as Row | undefined;
    if (row) this.#credentialsChanged();
    return row ? toService(row) : null;
  }
  async countStores(tenantId: string): Promise<number> {
    return this.#s.countStores.get(tenantId) as number;
  }
  async deleteStore(storeId: string): Promise<boolean> {
    if (this.#s.deleteStoreVersions.run(storeId).changes > 0) this.sealedBytesRemoved = true;
    this.#s.deleteStoreSecrets.run(storeId);
    return this.#s.deleteStore.run(storeId).changes === 1;
  }
  async getSecretById(storeId: string, id: string): Promise<SecretRecord | null> {
    const row = this.#s.getSecretById.get(storeId, id) as Row | undefined;
    return row ? toSecret(row) : null;
  }
  async listSecrets(storeId: string, q: SecretListQuery): Promise<SecretPage> {
    const where = ['store_id = ?'];
    const args: unknown[] = [storeId];
    if (q.search !== undefined && q.search !== '') {
      const pattern = containsPattern(q.search);
      where.push("(lower(name) LIKE ? ESCAPE '\\' OR lower(coalesce(description, '')) LIKE ? ESCAPE '\\')");
      args.push(pattern, pattern);
    }
    if (q.namePrefix !== undefined && q.namePrefix !== '') {
      where.push('substr(name, 1, ?) = ?');
      args.push(q.namePrefix.length, q.namePrefix);
    }
    if (q.scopes !== undefined && q.scopes.length > 0) {
      where.push(
        `EXISTS (SELECT 1 FROM json_each(secrets.scopes) WHERE value IN (${q.scopes.map(() => '?').join(', ')}))`,
      );
      args.push(...q.scopes);
    }
    const filter = where.join(' AND ');
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const total = this.#prepared(`SELECT count(*) FROM secrets WHERE ${filter}`)
      .pluck()
      .get(...args) as number;
    const rows = this.#prepared(
      `SELECT * FROM secrets WHERE ${filter} ORDER BY ${ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset) as Row[];
    return { items: rows.map(toSecret), total };
  }

  async listStoresPage(tenantId: string, managedBy: string | null, q: StorePageQuery): Promise<StorePage> {
    const args = [tenantId, managedBy ?? ''];
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const total = this.#prepared('SELECT count(*) FROM stores WHERE tenant_id = ? AND managed_by = ?')
      .pluck()
      .get(...args) as number;
    const rows = this.#prepared(
      `SELECT * FROM stores WHERE tenant_id = ? AND managed_by = ?
        ORDER BY ${STORE_ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset) as Row[];
    return { items: rows.map(toStore), total };
  }
  async listSecretsByName(storeId: string, q: NamePageQuery): Promise<NamePage<SecretRecord>> {
    const rows = this.#namePage('secrets', 'store_id = ?', [storeId], q);
    return { items: rows.slice(0, q.limit).map(toSecret), more: rows.length > q.limit };
  }
  async listStoresByName(
    tenantId: string,
    managedBy: string | null,
    q: NamePageQuery,
  ): Promise<NamePage<StoreRecord>> {
    const rows = this.#namePage('stores', 'tenant_id = ? AND managed_by = ?', [tenantId, managedBy ?? ''], q);
    return { items: rows.slice(0, q.limit).map(toStore), more: rows.length > q.limit };
  }
  /**
   * Up to `limit + 1` rows of a range on a unique (owner…, name) index: (store_id, name) for
   * secrets, (tenant_id, managed_by, name) for stores. The bounds are index bounds, so the rows read
   * are the rows returned, wherever the page starts.
   */
  #namePage(table: 'secrets' | 'stores', owner: string, args: unknown[], q: NamePageQuery): Row[] {
    const range = nameRange(q);
    const upper = range.below === null ? '' : ' AND name < ?';
    const sql = `SELECT * FROM ${table} WHERE ${owner} AND name ${range.inclusive ? '>=' : '>'} ?${upper} ORDER BY name LIMIT ?`;
    const bounds = range.below === null ? [range.from] : [range.from, range.below];
    return this.#prepared(sql).all(...args, ...bounds, q.limit + 1) as Row[];
  }

  /**
   * Statements for list queries, whose text depends on the filters used: prepared once per shape.
   * Shapes are few (filters × orders × directions), and the map is bounded anyway.
   */
  readonly #shapes = new Map<string, Database.Statement>();
  #prepared(sql: string): Database.Statement {
    let statement = this.#shapes.get(sql);
    if (statement === undefined) {
      if (this.#shapes.size >= 256) this.#shapes.clear();
      statement = this.#db.prepare(sql);
      this.#shapes.set(sql, statement);
    }
    return statement;
  }
  async countSecretsInStore(storeId: string): Promise<number> {
    return this.#s.countSecretsInStore.get(storeId) as number;
  }
  async countSecretsInTenant(tenantId: string): Promise<number> {
    return this.#s.countSecretsInTenant.get(tenantId) as number;
  }
  async getVersion(secretId: string, version: number): Promise<VersionRecord | null> {
    const row = this.#s.getVersion.get(secretId, version) as Row | undefined;
    return row ? toVersion(row) : null;
  }
  async updateSecretMetadata(
    secretId: string,
    patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
  ): Promise<void> {
    this.#s.updateSecretMetadata.run(
      patch.description,
      JSON.stringify(patch.scopes),
      patch.updatedAt,
      secretId,
    );
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = this.#s.getTenant.get(id) as Row | undefined;
    return row ? { id: str(row, 'id'), createdAt: num(row, 'created_at') } : null;
  }
  async ensureTenant(tenant: Tenant): Promise<boolean> {
    return this.#s.ensureTenant.run(tenant.id, tenant.createdAt).changes === 1;
  }

  async countApiKeys(): Promise<number> {
    return this.#s.countApiKeys.get() as number;
  }
  async findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null> {
    const row = this.#s.findApiKeyByHash.get(tokenHash) as Row | undefined;
    return row ? toApiKey(row) : null;
  }
  async getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null> {
    const row = this.#s.getApiKey.get(tenantId, name) as Row | undefined;
    return row ? toApiKey(row) : null;
  }
  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (this.#s.listApiKeys.all(tenantId) as Row[]).map(toApiKey);
  }
  async insertApiKey(k: ApiKeyRecord): Promise<boolean> {
    const r = this.#s.insertApiKey.run(
      k.tenantId,
      k.name,
      k.tokenHash,
      k.tokenPrefix,
      k.enabled ? 1 : 0,
      JSON.stringify(k.permissions),
      k.createdAt,
      k.updatedAt,
    );
    if (r.changes === 1) this.#credentialsChanged();
    return r.changes === 1;
  }
  async updateApiKey(
    tenantId: string,
    name: string,
    patch: { enabled: boolean; permissions: readonly string[]; updatedAt: number },
  ): Promise<ApiKeyRecord | null> {
    const row = this.#s.updateApiKey.get(
      patch.enabled ? 1 : 0,
      JSON.stringify(patch.permissions),
      patch.updatedAt,
      tenantId,
      name,
    ) as Row | undefined;
    if (row) this.#credentialsChanged();
    return row ? toApiKey(row) : null;
  }
  async deleteApiKey(tenantId: string, name: string): Promise<boolean> {
    const deleted = this.#s.deleteApiKey.run(tenantId, name).changes === 1;
    if (deleted) this.#credentialsChanged();
    return deleted;
  }

  async getStoreByName(
    tenantId: string,
    name: string,
    managedBy: string | null,
  ): Promise<StoreRecord | null> {
    const row = this.#s.getStoreByName.get(tenantId, managedBy ?? '', name) as Row | undefined;
    return row ? toStore(row) : null;
  }
  async getStoreById(tenantId: string, id: string): Promise<StoreRecord | null> {
    const row = this.#s.getStoreById.get(tenantId, id) as Row | undefined;
    return row ? toStore(row) : null;
  }
  async listStores(tenantId: string): Promise<StoreRecord[]> {
    return (this.#s.listStores.all(tenantId) as Row[]).map(toStore);
  }
  async insertStore(s: StoreRecord): Promise<boolean> {
    const r = this.#s.insertStore.run(s.id, s.tenantId, s.name, s.managedBy ?? '', s.createdAt, s.updatedAt);
    return r.changes === 1;
  }

  async getSecret(storeId: string, name: string): Promise<SecretRecord | null> {
    const row = this.#s.getSecret.get(storeId, name) as Row | undefined;
    return row ? toSecret(row) : null;
  }
  async listSecretNamesWithValue(storeId: string): Promise<string[]> {
    return this.#s.listSecretNamesWithValue.all(storeId) as string[];
  }
  async getCurrentValue(
    tenantId: string,
    storeName: string,
    secretName: string,
  ): Promise<SecretValueRow | null> {
    const row = this.#s.getCurrentValue.get(secretName, tenantId, storeName) as Row | undefined;
    if (!row) return null;
    return {
      storeId: str(row, 'store_id'),
      secretId: str(row, 'secret_id'),
      version: num(row, 'version'),
      notBefore: numOrNull(row, 'not_before'),
      expiresOn: numOrNull(row, 'expires_on'),
      sealed: {
        kekId: str(row, 'kek_id'),
        wrappedKey: blob(row, 'wrapped_key'),
        ciphertext: blob(row, 'ciphertext'),
      },
    };
  }
  async listVersions(secretId: string): Promise<VersionRecord[]> {
    return (this.#s.listVersions.all(secretId) as Row[]).map(toVersion);
  }
  async insertSecret(s: SecretRecord): Promise<boolean> {
    const r = this.#s.insertSecret.run(
      s.id,
      s.storeId,
      s.name,
      s.description,
      JSON.stringify(s.scopes),
      s.notBefore,
      s.expiresOn,
      s.currentVersion,
      s.latestVersion,
      s.createdAt,
      s.updatedAt,
    );
    return r.changes === 1;
  }
  async allocateVersion(secretId: string): Promise<number> {
    const n = this.#s.allocateVersion.get(secretId);
    if (typeof n !== 'number') throw new Error('sqlite: allocateVersion on a missing secret');
    return n;
  }
  async insertVersion(v: VersionRecord): Promise<void> {
    this.#s.insertVersion.run(v.secretId, v.version, v.kekId, v.wrappedKey, v.ciphertext, v.createdAt);
  }
  async setCurrentVersion(
    secretId: string,
    version: number,
    window: { notBefore: number | null; expiresOn: number | null },
    updatedAt: number,
  ): Promise<void> {
    this.#s.setCurrentVersion.run(version, window.notBefore, window.expiresOn, updatedAt, secretId);
  }
  async pruneVersions(secretId: string, keep: number): Promise<void> {
    const pruned =
      keep <= 0
        ? this.#s.deleteVersions.run(secretId)
        : this.#s.pruneVersions.run(secretId, secretId, keep - 1);
    if (pruned.changes > 0) this.sealedBytesRemoved = true;
  }
  async deleteSecret(storeId: string, secretId: string): Promise<boolean> {
    if (this.#s.getSecretById.get(storeId, secretId) === undefined) return false;
    if (this.#s.deleteVersions.run(secretId).changes > 0) this.sealedBytesRemoved = true;
    return this.#s.deleteSecret.run(secretId).changes === 1;
  }

  async hasSealedValues(): Promise<boolean> {
    return this.#s.hasSealedValues.get() === 1;
  }
  async listKekIdsInUse(): Promise<string[]> {
    return this.#s.listKekIdsInUse.all() as string[];
  }
  async listWrappedKeys(kekId: string, after: VersionCursor | null, limit: number): Promise<WrappedKeyRow[]> {
    // '' sorts before every id, so no cursor means "from the start".
    const rows = this.#s.listWrappedKeys.all(
      kekId,
      after?.secretId ?? '',
      after?.version ?? 0,
      limit,
    ) as Row[];
    return rows.map((row) => ({
      tenantId: str(row, 'tenant_id'),
      storeId: str(row, 'store_id'),
      secretId: str(row, 'secret_id'),
      version: num(row, 'version'),
      kekId: str(row, 'kek_id'),
      wrappedKey: blob(row, 'wrapped_key'),
    }));
  }
  async rewrapVersion(
    secretId: string,
    version: number,
    expectedKekId: string,
    next: { kekId: string; wrappedKey: Buffer },
  ): Promise<boolean> {
    // The replaced wrapped key opens with the old KEK: once that is retired, no copy may linger.
    const rewrapped =
      this.#s.rewrapVersion.run(next.kekId, next.wrappedKey, secretId, version, expectedKekId).changes === 1;
    if (rewrapped) this.sealedBytesRemoved = true;
    return rewrapped;
  }
  async getMeta(key: string): Promise<string | null> {
    const v = this.#s.getMeta.get(key);
    return typeof v === 'string' ? v : null;
  }
  async setMeta(key: string, value: string): Promise<void> {
    this.#s.setMeta.run(key, value);
  }

  async getAuditHead(tenantId: string): Promise<AuditHead | null> {
    const row = this.#s.getAuditHead.get(tenantId) as Row | undefined;
    return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
  }
  /** The single writer connection already serialises every transaction: reading the head is enough. */
  async lockAuditHead(tenantId: string): Promise<AuditHead> {
    return (await this.getAuditHead(tenantId)) ?? { seq: 0, hash: Buffer.alloc(32) };
  }
  async appendAuditEvent(e: AuditEventRecord): Promise<void> {
    this.#s.insertAuditEvent.run(
      e.tenantId,
      e.seq,
      e.time,
      e.actor,
      e.action,
      e.resource,
      e.outcome,
      e.reason,
      e.requestId,
      e.clientAddress,
      e.prevHash,
      e.hash,
    );
    this.#s.setAuditHead.run(e.tenantId, e.seq, e.hash);
  }
  async listAuditChains(): Promise<string[]> {
    return this.#s.listAuditChains.all() as string[];
  }
  async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
    const where = ['tenant_id = ?'];
    const args: unknown[] = [q.tenantId];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (q.beforeSeq !== undefined) add('seq < ?', q.beforeSeq);
    if (q.afterSeq !== undefined) add('seq > ?', q.afterSeq);
    if (q.action !== undefined) add('action = ?', q.action);
    if (q.actor !== undefined) add('actor = ?', q.actor);
    if (q.since !== undefined) add('time >= ?', q.since);
    if (q.until !== undefined) add('time < ?', q.until);
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const rows = this.#db
      .prepare(
        `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq ${dir} LIMIT ?`,
      )
      .all(...args, q.limit) as Row[];
    return rows.map(toAuditEvent);
  }
}

/**
 * The compiled addon, named so that better-sqlite3 skips the `bindings` package's search of a dozen
 * candidate paths (every CLI command that opens the database would pay for it at start-up): where
 * `npm install` builds it, else (a Debug build) wherever that same search, made from better-sqlite3's
 * own directory, finds it. Looked for once, on the first open; undefined leaves the search to
 * better-sqlite3.
 */
let nativeBinding: { readonly path: string | undefined } | null = null;

function nativeBindingPath(): string | undefined {
  nativeBinding ??= { path: findNativeBinding() };
  return nativeBinding.path;
}

function findNativeBinding(): string | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
    const root = dirname(packageJson);
    const file = join(root, 'build', 'Release', 'better_sqlite3.node');
    if (existsSync(file)) return file;
    // The CLI's bundle (rolldown.config.js) holds better-sqlite3's JavaScript, so `bindings` would
    // search from the bundle's directory: search from better-sqlite3's instead, as it would itself.
    const search: (options: { bindings: string; module_root: string; path: true }) => string =
      createRequire(packageJson)('bindings');
    return search({ bindings: 'better_sqlite3.node', module_root: root, path: true });
  } catch {
    return undefined;
  }
}

/** How long a connection waits for another process's lock (the CLI and a server sharing the file). */
const BUSY_TIMEOUT_MS = 5000;

function openConnection(path: string): Db {
  const binding = nativeBindingPath();
  const db = new Database(path, binding === undefined ? {} : { nativeBinding: binding });
  db.pragma('journal_mode = WAL');
  // An acknowledged write must survive power loss, not only a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // The CLI and a running server may share the file; wait for the other's lock instead of failing.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Deleted versions are overwritten in the file, not merely unlinked from the b-tree.
  db.pragma('secure_delete = ON');
  return db;
}

function migrate(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  // IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  db.exec('BEGIN IMMEDIATE');
  try {
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const known = Math.max(0, ...SQLITE_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(
        `The database schema (version ${newest}) is newer than this Coffer knows (${known}); upgrade Coffer.`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

interface PendingTransaction {
  readonly fn: (tx: RepositoryTx) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Most transactions committed together, under one fsync (group commit). */
const GROUP_COMMIT_MAX = 512;

/**
 * How long a commit that removed sealed bytes waits for other processes' readers to leave the WAL
 * before it is answered anyway (the same bound as `busy_timeout` for the CLI's writes).
 */
const WAL_SCRUB_WAIT_MS = BUSY_TIMEOUT_MS;

/** How stale a look at other processes' credential changes may be (this process's own: never). */
const EPOCH_RECHECK_MS = 1;

function busy(): UnavailableError {
  return new UnavailableError('database_busy', 'The database is busy; retry.');
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

/**
 * SQLite engine: one writer connection (transactions serialised by a mutex) and one reader
 * connection, which in WAL mode reads the last committed state without waiting for the writer.
 */
export class SqliteRepository extends RepositoryReadsForwarder implements Repository {
  readonly engine = 'sqlite' as const;
  readonly #writer: Db;
  readonly #reader: Db;
  readonly #write: SqliteStatements;
  readonly #read: SqliteStatements;
  readonly #queue: PendingTransaction[] = [];
  #draining: Promise<void> | null = null;
  #closed = false;

  private constructor(writer: Db, reader: Db) {
    super();
    this.#writer = writer;
    this.#reader = reader;
    this.#write = new SqliteStatements(writer);
    this.#read = new SqliteStatements(reader);
  }

  static open(path: string): SqliteRepository {
    const created = !existsSync(path);
    const writer = openConnection(path);
    if (created) chmodSync(path, 0o600);
    try {
      migrate(writer);
    } catch (error) {
      writer.close();
      throw error;
    }
    return new SqliteRepository(writer, openConnection(path));
  }

  /**
   * Group commit: transactions that queue up while one batch is being written go into the next one,
   * each inside its own SAVEPOINT (a failing one is rolled back alone), under a single COMMIT and
   * so a single fsync. Every caller is answered only after the COMMIT holding its work is durable
   * (`synchronous=FULL`); if that COMMIT fails, every transaction in it fails.
   */
  transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(busy());
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.#draining ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // Let requests that already arrived reach their transaction first, so they join this commit.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.#commitBatch(this.#queue.splice(0, GROUP_COMMIT_MAX));
      }
    } finally {
      // Reached with the queue empty and no await since the check: nothing can slip in between.
      this.#draining = null;
    }
  }

  async #commitBatch(batch: readonly PendingTransaction[]): Promise<void> {
    const db = this.#writer;
    this.#write.sealedBytesRemoved = false;
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const job of batch) job.reject(isBusy(error) ? busy() : error);
      return;
    }
    let done: { job: PendingTransaction; value: unknown }[] = [];
    for (const job of batch) {
      if (!db.inTransaction) {
        // An earlier failure aborted the whole transaction (I/O error, disk full): nothing joins it.
        job.reject(busy());
        continue;
      }
      db.exec('SAVEPOINT coffer_tx');
      try {
        const value = await job.fn(this.#write);
        db.exec('RELEASE coffer_tx');
        done.push({ job, value });
      } catch (error) {
        if (db.inTransaction) {
          db.exec('ROLLBACK TO coffer_tx');
          db.exec('RELEASE coffer_tx');
        } else {
          for (const d of done) d.job.reject(busy());
          done = [];
        }
        job.reject(isBusy(error) ? busy() : error);
      }
    }
    if (!db.inTransaction) return;
    try {
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      for (const d of done) d.job.reject(isBusy(error) ? busy() : error);
      return;
    }
    if (this.#write.credentialsTouched) {
      this.#write.credentialsTouched = false;
      this.#recheck = true;
    }
    // Answered only once no file holds the removed bytes any more: "deleted" means gone from disk.
    if (this.#write.sealedBytesRemoved || this.#scrubOwed) await this.#scrubWal();
    for (const d of done) d.job.resolve(d.value);
  }

  /** A scrub that gave up (a reader held the WAL too long): retried after the next commit. */
  #scrubOwed = false;

  /**
   * Empties the WAL after a commit that removed versions or replaced wrapped keys. The WAL still
   * holds the frames that once wrote those bytes (and, until a checkpoint, the freed pages that
   * `secure_delete` zeroed are zeroed only in the WAL): a TRUNCATE checkpoint copies the newest
   * page images into the database and cuts the WAL to zero bytes. It cannot finish while a reader
   * still uses the WAL; this process's reader never holds a snapshot between statements, but
   * another process's may, so it is tried without a busy wait (the event loop keeps serving reads)
   * and retried with growing pauses, up to WAL_SCRUB_WAIT_MS. Durability is unchanged: the COMMIT
   * was already durable (synchronous=FULL) and the checkpoint syncs before it truncates.
   */
  async #scrubWal(): Promise<void> {
    const deadline = performance.now() + WAL_SCRUB_WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      let emptied: boolean;
      try {
        emptied = this.#checkpointTruncate();
      } catch {
        // An I/O error: the COMMIT is durable all the same, so its callers are answered; the
        // checkpoint is owed, and the next commit retries it (and meets the error, if it stays).
        this.#scrubOwed = true;
        return;
      }
      if (emptied) {
        this.#scrubOwed = false;
        return;
      }
      if (performance.now() >= deadline) {
        this.#scrubOwed = true;
        return;
      }
      await sleep(pause);
    }
  }

  /** One TRUNCATE checkpoint attempt that never waits on a lock: true when the WAL is now empty. */
  #checkpointTruncate(): boolean {
    const db = this.#writer;
    db.pragma('busy_timeout = 0');
    try {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy?: number }[];
      return result?.busy === 0;
    } catch (error) {
      if (isBusy(error)) return false;
      throw error;
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  async ping(): Promise<void> {
    this.#read.ping();
  }

  #seenDataVersion = -1;
  #epoch = 0;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #recheck = true;

  /**
   * A number that changes whenever an API key or service credential may have changed, in this
   * process or another one (the CLI). Checking it costs one `PRAGMA data_version` (no disk read);
   * the stored epoch is re-read only after some commit happened.
   */
  credentialsEpoch(): number {
    // Changes committed by this process are seen at once (#commitBatch sets #recheck); changes by
    // another process (the CLI) within a millisecond of the last look. The pragma is cheap, but
    // under load it was the largest single item of the read path (BENCHMARKS.md).
    const now = performance.now();
    if (!this.#recheck && now - this.#checkedAt < EPOCH_RECHECK_MS) return this.#epoch;
    this.#recheck = false;
    this.#checkedAt = now;
    const dataVersion = this.#read.dataVersion();
    if (dataVersion !== this.#seenDataVersion) {
      this.#seenDataVersion = dataVersion;
      this.#epoch = this.#read.storedCredentialsEpoch();
    }
    return this.#epoch;
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== null) await this.#draining;
    this.#reader.close();
    this.#writer.close();
  }

  protected get reads(): RepositoryReads {
    return this.#read;
  }
}
