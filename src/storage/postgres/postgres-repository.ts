import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
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
import type { Repository, RepositoryTx } from '../../core/ports/repository.js';
import { RepositoryReadsForwarder } from '../repository-reads-forwarder.js';
import { type Row, rowMappers } from '../row-mappers.js';
import { classifyPgError, mapPgError } from './postgres-errors.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';

interface Result {
  readonly rows: Row[];
  readonly rowCount: number;
}

/** Runs one statement; `name` makes it a prepared statement, parsed once per connection. */
interface Executor {
  run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result>;
}

/** BIGINT arrives as a string (node-postgres keeps 64-bit precision); epoch-ms fits a double exactly. */
const { str, num, numOrNull, blob, bool, toApiKey, toService, toStore, toSecret, toVersion, toAuditEvent } =
  rowMappers({
    engine: 'postgres',
    integer: (v) => {
      const n = typeof v === 'string' ? Number(v) : v;
      return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
    },
    boolean: (v) => (typeof v === 'boolean' ? v : undefined),
    strings: (v) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined),
  });

// Explicit column lists, never `*`: a prepared `SELECT *` fails on a node still running when a later
// migration adds a column ("cached plan must not change result type").
const API_KEY_COLUMNS =
  'tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at';
const SERVICE_COLUMNS = 'name, token_hash, token_prefix, enabled, created_at';
const STORE_COLUMNS = 'id, tenant_id, name, managed_by, created_at, updated_at';
const VERSION_COLUMNS = 'secret_id, version, kek_id, wrapped_key, ciphertext, created_at';
const AUDIT_COLUMNS =
  'tenant_id, seq, time, actor, action, resource, outcome, reason, request_id, client_address, prev_hash, hash';
const SECRET_COLUMNS =
  'id, store_id, name, description, scopes, not_before, expires_on, current_version, latest_version, created_at, updated_at';

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

/**
 * Every statement of the contract, over one executor: the pool (reads outside a transaction, each
 * its own snapshot of committed data) or one client inside BEGIN … COMMIT.
 */
class PostgresStatements implements RepositoryTx {
  readonly #x: Executor;
  readonly #inTransaction: boolean;
  readonly #onCredentialsChanged: () => void;
  /** Inside a transaction: a credential changed, so this node's cache must forget on COMMIT. */
  credentialsTouched = false;

  constructor(executor: Executor, inTransaction: boolean, onCredentialsChanged: () => void) {
    this.#x = executor;
    this.#inTransaction = inTransaction;
    this.#onCredentialsChanged = onCredentialsChanged;
  }

  async #one(name: string | null, text: string, values: readonly unknown[]): Promise<Row | null> {
    return (await this.#x.run(name, text, values)).rows[0] ?? null;
  }
  async #all(name: string | null, text: string, values: readonly unknown[] = []): Promise<Row[]> {
    return (await this.#x.run(name, text, values)).rows;
  }
  /**
   * Tells every node's credentials listener that a key or service credential changed. NOTIFY is
   * transactional: it is delivered on COMMIT, never for a rolled-back change. The notification
   * reaches this node's own listener a moment after COMMIT too, so this node does not wait for it:
   * the transaction moves the local epoch once it has committed, before the change is reported
   * done, and a key disabled here is refused here by the very next request.
   */
  async #credentialsChanged(): Promise<void> {
    await this.#one(
      'coffer_notify_credentials',
      `SELECT pg_notify('${CREDENTIALS_CHANNEL}', current_schema()) AS sent`,
      [],
    );
    if (this.#inTransaction) this.credentialsTouched = true;
    else this.#onCredentialsChanged();
  }

  async #changes(name: string | null, text: string, values: readonly unknown[]): Promise<number> {
    return (await this.#x.run(name, text, values)).rowCount;
  }
  async #count(name: string | null, text: string, values: readonly unknown[]): Promise<number> {
    const row = await this.#one(name, text, values);
    return row === null ? 0 : num(row, 'n');
  }

  /**
   * Quota checks count then insert. Under READ COMMITTED two nodes could both count below the
   * limit; inside a transaction the count first locks the tenant row (NO KEY UPDATE, which does not
   * block foreign-key checks), so concurrent creators in one tenant take turns and counts are exact.
   */
  async #lockTenant(tenantId: string): Promise<void> {
    if (!this.#inTransaction) return;
    await this.#x.run('coffer_lock_tenant', 'SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [
      tenantId,
    ]);
  }

  async ping(): Promise<void> {
    await this.#x.run(null, 'SELECT 1');
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = await this.#one('coffer_get_tenant', 'SELECT id, created_at FROM tenants WHERE id = $1', [
      id,
    ]);
    return row ? { id: str(row, 'id'), createdAt: num(row, 'created_at') } : null;
  }
  async ensureTenant(tenant: Tenant): Promise<boolean> {
    const n = await this.#changes(
      'coffer_ensure_tenant',
      'INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
      [tenant.id, tenant.createdAt],
    );
    return n === 1;
  }

  async countApiKeys(): Promise<number> {
    return this.#count('coffer_count_api_keys', 'SELECT count(*) AS n FROM api_keys', []);
  }
  async findApiKeyByHash(tokenHash: Buffer): Promise<ApiKeyRecord | null> {
    const row = await this.#one(
      'coffer_find_api_key_by_hash',
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE token_hash = $1`,
      [tokenHash],
    );
    return row ? toApiKey(row) : null;
  }
  async getApiKey(tenantId: string, name: string): Promise<ApiKeyRecord | null> {
    const row = await this.#one(
      'coffer_get_api_key',
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND name = $2`,
      [tenantId, name],
    );
    return row ? toApiKey(row) : null;
  }
  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.#all(
      'coffer_list_api_keys',
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY name`,
      [tenantId],
    );
    return rows.map(toApiKey);
  }
  async insertApiKey(k: ApiKeyRecord): Promise<boolean> {
    const n = await this.#changes(
      'coffer_insert_api_key',
      `INSERT INTO api_keys (tenant_id, name, token_hash, token_prefix, enabled, permissions, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
      [
        k.tenantId,
        k.name,
        k.tokenHash,
        k.tokenPrefix,
        k.enabled,
        [...k.permissions],
        k.createdAt,
        k.updatedAt,
      ],
    );
    if (n === 1) await this.#credentialsChanged();
    return n === 1;
  }
  async updateApiKey(
    tenantId: string,
    name: string,
    patch: { enabled: boolean; permissions: readonly string[]; updatedAt: number },
  ): Promise<ApiKeyRecord | null> {
    const row = await this.#one(
      'coffer_update_api_key',
      `UPDATE api_keys SET enabled = $1, permissions = $2, updated_at = $3
        WHERE tenant_id = $4 AND name = $5 RETURNING ${API_KEY_COLUMNS}`,
      [patch.enabled, [...patch.permissions], patch.updatedAt, tenantId, name],
    );
    if (row) await this.#credentialsChanged();
    return row ? toApiKey(row) : null;
  }
  async deleteApiKey(tenantId: string, name: string): Promise<boolean> {
    const n = await this.#changes(
      'coffer_delete_api_key',
      'DELETE FROM api_keys WHERE tenant_id = $1 AND name = $2',
      [tenantId, name],
    );
    if (n === 1) await this.#credentialsChanged();
    return n === 1;
  }

  async findServiceByHash(tokenHash: Buffer): Promise<ServiceCredentialRecord | null> {
    const row = await this.#one(
      'coffer_find_service_by_hash',
      `SELECT ${SERVICE_COLUMNS} FROM service_credentials WHERE token_hash = $1`,
      [tokenHash],
    );
    return row ? toService(row) : null;
  }
  async listServices(): Promise<ServiceCredentialRecord[]> {
    return (
      await this.#all(
        'coffer_list_services',
        `SELECT ${SERVICE_COLUMNS} FROM service_credentials ORDER BY name`,
      )
    ).map(toService);
  }
  async insertService(c: ServiceCredentialRecord): Promise<boolean> {
    const n = await this.#changes(
      'coffer_insert_service',
      `INSERT INTO service_credentials (name, token_hash, token_prefix, enabled, created_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [c.name, c.tokenHash, c.tokenPrefix, c.enabled, c.createdAt],
    );
    if (n === 1) await this.#credentialsChanged();
    return n === 1;
  }
  async setServiceEnabled(name: string, enabled: boolean): Promise<boolean> {
    const n = await this.#changes(
      'coffer_set_service_enabled',
      'UPDATE service_credentials SET enabled = $1 WHERE name = $2',
      [enabled, name],
    );
    if (n === 1) await this.#credentialsChanged();
    return n === 1;
  }
  async deleteService(name: string): Promise<ServiceCredentialRecord | null> {
    const row = await this.#one(
      'coffer_delete_service',
      `DELETE FROM service_credentials WHERE name = $1 RETURNING ${SERVICE_COLUMNS}`,
      [name],
    );
    if (row) await this.#credentialsChanged();
    return row ? toService(row) : null;
  }

  async getStoreByName(
    tenantId: string,
    name: string,
    managedBy: string | null,
  ): Promise<StoreRecord | null> {
    const row = await this.#one(
      'coffer_get_store_by_name',
      `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND managed_by = $2 AND name = $3`,
      [tenantId, managedBy ?? '', name],
    );
    return row ? toStore(row) : null;
  }
  async getStoreById(tenantId: string, id: string): Promise<StoreRecord | null> {
    const row = await this.#one(
      'coffer_get_store_by_id',
      `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    return row ? toStore(row) : null;
  }
  async listStores(tenantId: string): Promise<StoreRecord[]> {
    const rows = await this.#all(
      'coffer_list_stores',
      `SELECT ${STORE_COLUMNS} FROM stores WHERE tenant_id = $1 ORDER BY created_at, id`,
      [tenantId],
    );
    return rows.map(toStore);
  }
  async countStores(tenantId: string): Promise<number> {
    await this.#lockTenant(tenantId);
    return this.#count('coffer_count_stores', 'SELECT count(*) AS n FROM stores WHERE tenant_id = $1', [
      tenantId,
    ]);
  }
  async insertStore(s: StoreRecord): Promise<boolean> {
    const n = await this.#changes(
      'coffer_insert_store',
      `INSERT INTO stores (id, tenant_id, name, managed_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [s.id, s.tenantId, s.name, s.managedBy ?? '', s.createdAt, s.updatedAt],
    );
    return n === 1;
  }
  async deleteStore(storeId: string): Promise<boolean> {
    // Secrets and their versions go with it (ON DELETE CASCADE).
    return (await this.#changes('coffer_delete_store', 'DELETE FROM stores WHERE id = $1', [storeId])) === 1;
  }

  /**
   * Inside a transaction a secret is read FOR UPDATE: what a write decides from it (a precondition
   * such as If-Match, the current version) holds until it commits. Without the lock, READ COMMITTED
   * let ten concurrent `If-Match: "1"` writers all see version 1 and all succeed (test/v1, on
   * PostgreSQL); with it, each waits for the one before and then reads what it committed.
   */
  async getSecret(storeId: string, name: string): Promise<SecretRecord | null> {
    return this.#secretBy('name', storeId, name);
  }
  async getSecretById(storeId: string, id: string): Promise<SecretRecord | null> {
    return this.#secretBy('id', storeId, id);
  }
  /** A secret by name or id; inside a transaction, row-locked until COMMIT (see getSecret). */
  async #secretBy(column: 'name' | 'id', storeId: string, key: string): Promise<SecretRecord | null> {
    const locked = this.#inTransaction;
    const row = await this.#one(
      `coffer_get_secret_by_${column}${locked ? '_locked' : ''}`,
      `SELECT ${SECRET_COLUMNS} FROM secrets WHERE store_id = $1 AND ${column} = $2${locked ? ' FOR UPDATE' : ''}`,
      [storeId, key],
    );
    return row ? toSecret(row) : null;
  }
  async listSecrets(storeId: string, q: SecretListQuery): Promise<SecretPage> {
    const values: unknown[] = [storeId];
    const where = ['store_id = $1'];
    if (q.search !== undefined && q.search !== '') {
      values.push(q.search);
      const p = `$${values.length}`;
      // Columns are COLLATE "C", so lower() folds ASCII only: the same matches as SQLite's lower().
      where.push(
        `(strpos(lower(name), lower(${p} COLLATE "C")) > 0 OR strpos(lower(coalesce(description, '')), lower(${p} COLLATE "C")) > 0)`,
      );
    }
    if (q.namePrefix !== undefined && q.namePrefix !== '') {
      values.push(q.namePrefix);
      where.push(`starts_with(name, $${values.length})`);
    }
    if (q.scopes !== undefined && q.scopes.length > 0) {
      values.push([...q.scopes]);
      where.push(`scopes && $${values.length}::text[]`);
    }
    const filter = where.join(' AND ');
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    values.push(q.limit, q.offset);
    // The total comes from the same statement (one snapshot), computed before LIMIT applies.
    const rows = await this.#all(
      null,
      `SELECT ${SECRET_COLUMNS}, count(*) OVER () AS total FROM secrets WHERE ${filter}
        ORDER BY ${ORDER_COLUMNS[q.order]} ${dir}, id ${dir}
        LIMIT $${values.length - 1} OFFSET $${values.length}`,
      values,
    );
    const first = rows[0];
    if (first !== undefined) return { items: rows.map(toSecret), total: num(first, 'total') };
    // A page past the end holds no row to carry the total.
    const total = await this.#count(
      null,
      `SELECT count(*) AS n FROM secrets WHERE ${filter}`,
      values.slice(0, -2),
    );
    return { items: [], total };
  }
  async listStoresPage(tenantId: string, managedBy: string | null, q: StorePageQuery): Promise<StorePage> {
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    // The total comes from the same statement (one snapshot), computed before LIMIT applies.
    const rows = await this.#all(
      null,
      `SELECT ${STORE_COLUMNS}, count(*) OVER () AS total FROM stores WHERE tenant_id = $1 AND managed_by = $2
        ORDER BY ${STORE_ORDER_COLUMNS[q.order]} ${dir}, id ${dir} LIMIT $3 OFFSET $4`,
      [tenantId, managedBy ?? '', q.limit, q.offset],
    );
    const first = rows[0];
    if (first !== undefined) return { items: rows.map(toStore), total: num(first, 'total') };
    // A page past the end holds no row to carry the total.
    const total = await this.#count(
      'coffer_count_managed_stores',
      'SELECT count(*) AS n FROM stores WHERE tenant_id = $1 AND managed_by = $2',
      [tenantId, managedBy ?? ''],
    );
    return { items: [], total };
  }
  async listSecretsByName(storeId: string, q: NamePageQuery): Promise<NamePage<SecretRecord>> {
    const rows = await this.#namePage('secrets', SECRET_COLUMNS, 'store_id = $1', [storeId], q);
    return { items: rows.slice(0, q.limit).map(toSecret), more: rows.length > q.limit };
  }
  async listStoresByName(
    tenantId: string,
    managedBy: string | null,
    q: NamePageQuery,
  ): Promise<NamePage<StoreRecord>> {
    const rows = await this.#namePage(
      'stores',
      STORE_COLUMNS,
      'tenant_id = $1 AND managed_by = $2',
      [tenantId, managedBy ?? ''],
      q,
    );
    return { items: rows.slice(0, q.limit).map(toStore), more: rows.length > q.limit };
  }
  /**
   * Up to `limit + 1` rows of a range on a unique (owner…, name) index (names are COLLATE "C", so
   * the bounds are index bounds): the rows read are the rows returned, wherever the page starts.
   * One prepared statement per shape (strict or not, with or without an upper bound).
   */
  async #namePage(
    table: 'secrets' | 'stores',
    columns: string,
    owner: string,
    values: readonly unknown[],
    q: NamePageQuery,
  ): Promise<Row[]> {
    const range = nameRange(q);
    const args = [...values, range.from, ...(range.below === null ? [] : [range.below]), q.limit + 1];
    const n = (i: number) => `$${values.length + i}`;
    const upper = range.below === null ? '' : ` AND name < ${n(2)}`;
    const sql = `SELECT ${columns} FROM ${table} WHERE ${owner} AND name ${range.inclusive ? '>=' : '>'} ${n(1)}${upper}
      ORDER BY name LIMIT ${n(args.length - values.length)}`;
    const name = `coffer_${table}_by_name_${range.inclusive ? 'from' : 'after'}${range.below === null ? '' : '_below'}`;
    return this.#all(name, sql, args);
  }
  async countSecretsInStore(storeId: string): Promise<number> {
    return this.#count(
      'coffer_count_secrets_in_store',
      'SELECT count(*) AS n FROM secrets WHERE store_id = $1',
      [storeId],
    );
  }
  async countSecretsInTenant(tenantId: string): Promise<number> {
    await this.#lockTenant(tenantId);
    return this.#count(
      'coffer_count_secrets_in_tenant',
      'SELECT count(*) AS n FROM secrets s JOIN stores st ON st.id = s.store_id WHERE st.tenant_id = $1',
      [tenantId],
    );
  }
  async insertSecret(s: SecretRecord): Promise<boolean> {
    const n = await this.#changes(
      'coffer_insert_secret',
      `INSERT INTO secrets (${SECRET_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
        s.id,
        s.storeId,
        s.name,
        s.description,
        [...s.scopes],
        s.notBefore,
        s.expiresOn,
        s.currentVersion,
        s.latestVersion,
        s.createdAt,
        s.updatedAt,
      ],
    );
    return n === 1;
  }
  async updateSecretMetadata(
    secretId: string,
    patch: { description: string | null; scopes: readonly string[]; updatedAt: number },
  ): Promise<void> {
    await this.#x.run(
      'coffer_update_secret_metadata',
      'UPDATE secrets SET description = $1, scopes = $2, updated_at = $3 WHERE id = $4',
      [patch.description, [...patch.scopes], patch.updatedAt, secretId],
    );
  }
  async allocateVersion(secretId: string): Promise<number> {
    // The row lock taken here orders concurrent writers of one secret: a linear history, no gaps.
    const row = await this.#one(
      'coffer_allocate_version',
      'UPDATE secrets SET latest_version = latest_version + 1 WHERE id = $1 RETURNING latest_version',
      [secretId],
    );
    if (row === null) {
      // Reachable when another node deleted the secret after the caller read it.
      throw new UnavailableError('write_conflict', 'A concurrent write interfered; retry.');
    }
    return num(row, 'latest_version');
  }
  async insertVersion(v: VersionRecord): Promise<void> {
    await this.#x.run(
      'coffer_insert_version',
      `INSERT INTO secret_versions (secret_id, version, kek_id, wrapped_key, ciphertext, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [v.secretId, v.version, v.kekId, v.wrappedKey, v.ciphertext, v.createdAt],
    );
  }
  async setCurrentVersion(
    secretId: string,
    version: number,
    window: { notBefore: number | null; expiresOn: number | null },
    updatedAt: number,
  ): Promise<void> {
    await this.#x.run(
      'coffer_set_current_version',
      'UPDATE secrets SET current_version = $1, not_before = $2, expires_on = $3, updated_at = $4 WHERE id = $5',
      [version, window.notBefore, window.expiresOn, updatedAt, secretId],
    );
  }
  async pruneVersions(secretId: string, keep: number): Promise<void> {
    if (keep <= 0) {
      await this.#x.run('coffer_delete_versions', 'DELETE FROM secret_versions WHERE secret_id = $1', [
        secretId,
      ]);
      return;
    }
    await this.#x.run(
      'coffer_prune_versions',
      // Everything older than the keep-th newest version (NULL, so nothing, while fewer exist).
      `DELETE FROM secret_versions WHERE secret_id = $1 AND version <
         (SELECT version FROM secret_versions WHERE secret_id = $1 ORDER BY version DESC LIMIT 1 OFFSET $2)`,
      [secretId, keep - 1],
    );
  }
  async deleteSecret(storeId: string, secretId: string): Promise<boolean> {
    // Versions go with it (ON DELETE CASCADE); the store condition keeps another store's secret safe.
    const n = await this.#changes(
      'coffer_delete_secret',
      'DELETE FROM secrets WHERE store_id = $1 AND id = $2',
      [storeId, secretId],
    );
    return n === 1;
  }
  async getVersion(secretId: string, version: number): Promise<VersionRecord | null> {
    const row = await this.#one(
      'coffer_get_version',
      `SELECT ${VERSION_COLUMNS} FROM secret_versions WHERE secret_id = $1 AND version = $2`,
      [secretId, version],
    );
    return row ? toVersion(row) : null;
  }
  async listVersions(secretId: string): Promise<VersionRecord[]> {
    const rows = await this.#all(
      'coffer_list_versions',
      `SELECT ${VERSION_COLUMNS} FROM secret_versions WHERE secret_id = $1 ORDER BY version`,
      [secretId],
    );
    return rows.map(toVersion);
  }
  async listSecretNamesWithValue(storeId: string): Promise<string[]> {
    const rows = await this.#all(
      'coffer_list_secret_names_with_value',
      'SELECT name FROM secrets WHERE store_id = $1 AND current_version IS NOT NULL ORDER BY name',
      [storeId],
    );
    return rows.map((r) => str(r, 'name'));
  }
  async getCurrentValue(
    tenantId: string,
    storeName: string,
    secretName: string,
  ): Promise<SecretValueRow | null> {
    const row = await this.#one(
      'coffer_get_current_value',
      `SELECT st.id AS store_id, s.id AS secret_id, s.not_before, s.expires_on,
              v.version, v.kek_id, v.wrapped_key, v.ciphertext
         FROM stores st
         JOIN secrets s ON s.store_id = st.id AND s.name = $3
         JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version
        WHERE st.tenant_id = $1 AND st.managed_by = '' AND st.name = $2`,
      [tenantId, storeName, secretName],
    );
    if (row === null) return null;
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

  async hasSealedValues(): Promise<boolean> {
    const row = await this.#one(
      'coffer_has_sealed_values',
      'SELECT EXISTS (SELECT 1 FROM secret_versions) AS x',
      [],
    );
    return row !== null && bool(row, 'x');
  }
  async listKekIdsInUse(): Promise<string[]> {
    const rows = await this.#all(
      'coffer_list_kek_ids_in_use',
      'SELECT DISTINCT kek_id FROM secret_versions ORDER BY kek_id',
    );
    return rows.map((r) => str(r, 'kek_id'));
  }
  async listWrappedKeys(kekId: string, after: VersionCursor | null, limit: number): Promise<WrappedKeyRow[]> {
    // Row-value comparison walks the (secret_id, version) primary key; '' sorts first under "C".
    const rows = await this.#all(
      'coffer_list_wrapped_keys',
      `SELECT st.tenant_id, s.store_id, v.secret_id, v.version, v.kek_id, v.wrapped_key
         FROM secret_versions v
         JOIN secrets s ON s.id = v.secret_id
         JOIN stores st ON st.id = s.store_id
        WHERE v.kek_id = $1 AND (v.secret_id, v.version) > ($2, $3)
        ORDER BY v.secret_id, v.version
        LIMIT $4`,
      [kekId, after?.secretId ?? '', after?.version ?? 0, limit],
    );
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
    const n = await this.#changes(
      'coffer_rewrap_version',
      `UPDATE secret_versions SET kek_id = $1, wrapped_key = $2
        WHERE secret_id = $3 AND version = $4 AND kek_id = $5`,
      [next.kekId, next.wrappedKey, secretId, version, expectedKekId],
    );
    return n === 1;
  }
  async getMeta(key: string): Promise<string | null> {
    const row = await this.#one('coffer_get_meta', 'SELECT value FROM coffer_meta WHERE key = $1', [key]);
    return row ? str(row, 'value') : null;
  }
  async setMeta(key: string, value: string): Promise<void> {
    await this.#x.run(
      'coffer_set_meta',
      'INSERT INTO coffer_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async getAuditHead(tenantId: string): Promise<AuditHead | null> {
    const row = await this.#one(
      'coffer_get_audit_head',
      'SELECT seq, hash FROM audit_heads WHERE tenant_id = $1',
      [tenantId],
    );
    return row ? { seq: num(row, 'seq'), hash: blob(row, 'hash') } : null;
  }
  /**
   * One round trip: creates the head at seq 0 if the chain is new, and in any case row-locks it (the
   * no-op DO UPDATE) until COMMIT. A concurrent appender of the chain waits here, then reads the head
   * that the first one committed (READ COMMITTED re-checks the updated row), so seqs never fork.
   */
  async lockAuditHead(tenantId: string): Promise<AuditHead> {
    const row = await this.#one(
      'coffer_lock_audit_head',
      `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq
       RETURNING seq, hash`,
      [tenantId, Buffer.alloc(32)],
    );
    if (row === null) throw new Error('postgres: the audit head was not returned');
    return { seq: num(row, 'seq'), hash: blob(row, 'hash') };
  }
  async appendAuditEvent(e: AuditEventRecord): Promise<void> {
    await this.#x.run(
      'coffer_append_audit_event',
      `WITH inserted AS (
         INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       )
       UPDATE audit_heads SET seq = $2, hash = $12 WHERE tenant_id = $1`,
      [
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
      ],
    );
  }
  async listAuditChains(): Promise<string[]> {
    const rows = await this.#all(
      'coffer_list_audit_chains',
      'SELECT tenant_id FROM audit_heads UNION SELECT tenant_id FROM audit_events ORDER BY 1',
    );
    return rows.map((r) => str(r, 'tenant_id'));
  }
  async listAuditEvents(q: AuditQuery): Promise<AuditEventRecord[]> {
    const values: unknown[] = [q.tenantId];
    const where = ['tenant_id = $1'];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(`${clause} $${values.length}`);
    };
    if (q.beforeSeq !== undefined) add('seq <', q.beforeSeq);
    if (q.afterSeq !== undefined) add('seq >', q.afterSeq);
    if (q.action !== undefined) add('action =', q.action);
    if (q.actor !== undefined) add('actor =', q.actor);
    if (q.since !== undefined) add('time >=', q.since);
    if (q.until !== undefined) add('time <', q.until);
    values.push(q.limit);
    const dir = q.direction === 'desc' ? 'DESC' : 'ASC';
    const rows = await this.#all(
      null,
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(' AND ')}
        ORDER BY seq ${dir} LIMIT $${values.length}`,
      values,
    );
    return rows.map(toAuditEvent);
  }
}

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can): a lookup, update or delete keyed by a string
 * holding one is refused by the server with an error, where SQLite simply matches nothing. No stored
 * name or id can hold one (the core validates what it writes), so such a statement matches no row:
 * answer that without asking, and both engines agree (a hostile `%00` in a path is a 404, not a 500).
 */
function matchesNothing(text: string, values: readonly unknown[] | undefined): boolean {
  return (
    values !== undefined &&
    !/^\s*INSERT\b/i.test(text) &&
    values.some((v) => typeof v === 'string' && v.includes('\u0000'))
  );
}

function statement(
  name: string | null,
  text: string,
  values: readonly unknown[] | undefined,
): pg.QueryConfig {
  const config: pg.QueryConfig = { text, values: values === undefined ? [] : [...values] };
  if (name !== null) config.name = name;
  return config;
}

/** Reads outside a transaction: any pooled connection, each statement its own snapshot. */
class PoolExecutor implements Executor {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }
  async run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result> {
    if (matchesNothing(text, values)) return { rows: [], rowCount: 0 };
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.#pool.query<Row>(statement(name, text, values));
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      } catch (error) {
        // A pooled connection the server ended while idle: a read is safe to run again, once.
        if (attempt === 1 && classifyPgError(error) === 'lost') continue;
        throw mapPgError(error);
      }
    }
  }
}

/** One client inside BEGIN … COMMIT; refuses use once its transaction has ended. */
class ClientExecutor implements Executor {
  readonly #client: pg.PoolClient;
  #open = true;
  constructor(client: pg.PoolClient) {
    this.#client = client;
  }
  end(): void {
    this.#open = false;
  }
  async run(name: string | null, text: string, values?: readonly unknown[]): Promise<Result> {
    if (!this.#open) throw new Error('postgres: a transaction handle was used after its transaction ended');
    if (matchesNothing(text, values)) return { rows: [], rowCount: 0 };
    try {
      const r = await this.#client.query<Row>(statement(name, text, values));
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (error) {
      throw mapPgError(error);
    }
  }
}

/** How often a transaction runs again after a serialization failure or deadlock. */
const MAX_ATTEMPTS = 6;
/** advisory-lock class for migrations; the object id is the schema's hash, so schemas migrate independently. */
const MIGRATION_LOCK_CLASS = 0x436f66; // "Cof"

export interface PostgresOptions {
  /** Connections per node (default 10). */
  readonly maxConnections?: number;
  /** How long to wait for a connection, new or from a full pool, before answering Unavailable (default 5000). */
  readonly connectionTimeoutMillis?: number;
}

async function migrate(pool: pg.Pool): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapPgError(error);
  }
  let failed: unknown;
  try {
    await client.query('BEGIN');
    const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
    if (schema === null || schema === undefined) {
      throw new Error('PostgreSQL: no schema of the search_path exists; create it or fix search_path.');
    }
    // Held until COMMIT: nodes starting together migrate one after another, each seeing the last's work.
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [
      MIGRATION_LOCK_CLASS,
    ]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const known = Math.max(0, ...POSTGRES_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(
        `The database schema (version ${newest}) is newer than this Coffer knows (${known}); upgrade Coffer.`,
      );
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        Date.now(),
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw mapPgError(error);
  } finally {
    client.release(failed !== undefined && classifyPgError(failed) !== 'other');
  }
}

const CREDENTIALS_CHANNEL = 'coffer_credentials';
/** How often the listening connection proves it is alive; a silent, half-open socket is caught too. */
const LISTENER_HEARTBEAT_MS = 2_000;
const LISTENER_RETRY_MS = 500;

/**
 * One dedicated connection per node that LISTENs for credential changes made by any node. Its
 * epoch moves on every notification, and on every (re)connection, since changes made while it was
 * not listening were not heard. While it is not listening the epoch is NaN, which never equals
 * itself: the auth cache then neither serves nor keeps anything.
 */
class CredentialsListener {
  readonly #url: string;
  #schema = '';
  #epoch = 0;
  #client: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;

  constructor(url: string) {
    this.#url = url;
  }

  get epoch(): number {
    return this.#listening ? this.#epoch : Number.NaN;
  }

  /** This node committed a credential change: move now, without waiting for its own notification. */
  changedHere(): void {
    this.#epoch++;
  }

  /** Connects once; on failure keeps retrying in the background (the node serves uncached meanwhile). */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch {
      this.#drop();
    }
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    this.#client = client;
    client.on('error', () => this.#drop(client));
    client.on('end', () => this.#drop(client));
    client.on('notification', (message) => {
      if (message.channel === CREDENTIALS_CHANNEL && message.payload === this.#schema) this.#epoch++;
    });
    await client.connect();
    const result = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    this.#schema = result.rows[0]?.schema ?? '';
    await client.query(`LISTEN ${CREDENTIALS_CHANNEL}`);
    if (this.#closed || this.#client !== client) return;
    this.#epoch++;
    this.#listening = true;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch(() => this.#drop(client));
    }, LISTENER_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #drop(client: pg.Client | null = this.#client): void {
    if (client !== this.#client) return;
    this.#listening = false;
    this.#epoch++;
    this.#client = null;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    client?.end().catch(() => undefined);
    if (this.#closed || this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (!this.#closed) void this.start();
    }, LISTENER_RETRY_MS);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    const client = this.#client;
    this.#drop(client);
    await client?.end().catch(() => undefined);
  }
}

/**
 * PostgreSQL engine, for several stateless Coffer nodes over one database. Transactions run at
 * READ COMMITTED on one pooled client; see docs/adr/0002-postgres-engine.md for the reasoning.
 */
export class PostgresRepository extends RepositoryReadsForwarder implements Repository {
  readonly engine = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #read: PostgresStatements;
  readonly #listener: CredentialsListener;
  #closed: Promise<void> | null = null;

  private constructor(pool: pg.Pool, url: string) {
    const listener = new CredentialsListener(url);
    const read = new PostgresStatements(new PoolExecutor(pool), false, () => listener.changedHere());
    super(read);
    this.#pool = pool;
    this.#listener = listener;
    this.#read = read;
  }

  /** Opens a pool on `url` (postgres://…) and brings the schema up to date before returning. */
  static async connect(url: string, options: PostgresOptions = {}): Promise<PostgresRepository> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'coffer',
    });
    // An idle connection the server closed: the pool has already dropped it, and the next query
    // opens a fresh one. Without a listener the event would crash the process.
    pool.on('error', () => undefined);
    const repository = new PostgresRepository(pool, url);
    try {
      await migrate(pool);
    } catch (error) {
      await repository.close();
      throw error;
    }
    await repository.#listener.start();
    return repository;
  }

  async transaction<T>(fn: (tx: RepositoryTx) => Promise<T>): Promise<T> {
    let lostRetried = false;
    let backoffMs = 0;
    for (let attempt = 1; ; attempt++) {
      // Waits with no client checked out, so a backing-off transaction holds no pool slot.
      if (backoffMs > 0) await sleep(backoffMs);
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw mapPgError(error);
      }
      // A checked-out client's socket may die while the callback awaits something else; pg then
      // emits 'error' on the client, which must not go unheard.
      let broken = false;
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      const executor = new ClientExecutor(client);
      let committing = false;
      const statements = new PostgresStatements(executor, true, () => undefined);
      try {
        await executor.run(null, 'BEGIN');
        const result = await fn(statements);
        committing = true;
        await executor.run(null, 'COMMIT');
        if (statements.credentialsTouched) this.#listener.changedHere();
        return result;
      } catch (error) {
        // A COMMIT whose outcome is unknown may have changed a credential: forget, to be safe.
        if (committing && statements.credentialsTouched) this.#listener.changedHere();
        const failure = classifyPgError(error);
        if (failure === 'lost' || failure === 'unreachable') broken = true;
        if (!broken && !committing) {
          try {
            await executor.run(null, 'ROLLBACK');
          } catch {
            broken = true;
          }
        }
        if (failure === 'conflict' && attempt < MAX_ATTEMPTS) {
          backoffMs = Math.random() * 5 * 2 ** attempt;
          continue;
        }
        // Lost before COMMIT was sent: nothing was committed, so running it again is safe. Lost
        // during COMMIT: the outcome is unknown, and the caller must hear so.
        if (failure === 'lost' && !committing && !lostRetried) {
          lostRetried = true;
          backoffMs = 0;
          continue;
        }
        if (failure === 'conflict') {
          throw new UnavailableError('write_conflict', 'Concurrent writes kept colliding; retry.');
        }
        throw mapPgError(error);
      } finally {
        executor.end();
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  async ping(): Promise<void> {
    await this.#read.ping();
  }

  /** Moves whenever any node changes a credential, or this node may have missed such a change. */
  credentialsEpoch(): number {
    return this.#listener.epoch;
  }

  close(): Promise<void> {
    this.#closed ??= this.#listener.close().then(() => this.#pool.end());
    return this.#closed;
  }
}
