import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabaseFile } from '../audit/audit-events.js';
import type { TestServer } from './test-server.js';

/**
 * Reaching under a test server's repository, as someone with access to its storage would: on SQLite
 * the data directory's files, on PostgreSQL the server's schema. Lets the fail-closed and at-rest
 * suites run on both engines.
 */
async function withServerSchema<T>(server: TestServer, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  if (server.databaseUrl === null) throw new Error('not a PostgreSQL test server');
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** From now on every audit insert aborts (a trigger), until repairAuditInserts. */
export async function breakAuditInserts(server: TestServer): Promise<void> {
  if (server.engine === 'sqlite') {
    const db = openDatabaseFile(server.dataDir);
    try {
      db.exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events
               BEGIN SELECT RAISE(ABORT, 'audit storage refused the event'); END;`);
    } finally {
      db.close();
    }
    return;
  }
  await withServerSchema(server, async (c) => {
    await c.query(`CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'audit storage refused the event'; END $$`);
    await c.query(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events
                   FOR EACH ROW EXECUTE FUNCTION audit_broken()`);
  });
}

export async function repairAuditInserts(server: TestServer): Promise<void> {
  if (server.engine === 'sqlite') {
    const db = openDatabaseFile(server.dataDir);
    try {
      db.exec('DROP TRIGGER audit_broken');
    } finally {
      db.close();
    }
    return;
  }
  await withServerSchema(server, async (c) => {
    await c.query('DROP TRIGGER audit_broken ON audit_events');
    await c.query('DROP FUNCTION audit_broken()');
  });
}

/**
 * Every byte the server's storage holds: SQLite, every file of the data directory (database, WAL,
 * shared memory, key file); PostgreSQL, every value of every row of every table of its schema
 * (bytea as its raw bytes, the rest as text).
 */
export async function storageBytes(server: TestServer): Promise<Buffer> {
  if (server.engine === 'sqlite') {
    return Buffer.concat(readdirSync(server.dataDir).map((f) => readFileSync(join(server.dataDir, f))));
  }
  return withServerSchema(server, async (c) => {
    const tables = await c.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`,
    );
    const parts: Buffer[] = [];
    for (const { table_name: table } of tables.rows) {
      const rows = await c.query<Record<string, unknown>>(`SELECT * FROM "${table}"`);
      for (const row of rows.rows) {
        for (const v of Object.values(row)) {
          parts.push(Buffer.isBuffer(v) ? v : Buffer.from(`${String(v)}\t`, 'utf8'));
        }
      }
    }
    return Buffer.concat(parts);
  });
}

/** Every audit row, every column as text (binary in hex): what a secrecy search of the trail reads. */
export async function allAuditRowsText(server: TestServer): Promise<string> {
  const rows: Record<string, unknown>[] =
    server.engine === 'sqlite'
      ? (() => {
          const db = openDatabaseFile(server.dataDir, { readonly: true });
          try {
            return db.prepare('SELECT * FROM audit_events').all() as Record<string, unknown>[];
          } finally {
            db.close();
          }
        })()
      : await withServerSchema(server, async (c) => (await c.query('SELECT * FROM audit_events')).rows);
  return rows
    .map((row) =>
      Object.values(row)
        .map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v)))
        .join('\t'),
    )
    .join('\n');
}

/** The tables holding tenants' data and credentials (the audit trail and bookkeeping apart). */
const DATA_TABLES = [
  'tenants',
  'api_keys',
  'service_credentials',
  'stores',
  'secrets',
  'secret_versions',
  'webhooks',
];

/** What a table's rows are compared by: all columns, except what the webhook workers move on their own. */
const COLUMNS: Readonly<Record<string, string>> = {
  webhooks:
    'id, tenant_id, url, event_kinds, stores, enabled, secret_kek_id, secret_wrapped_key, secret_ciphertext, secret_version, created_at, updated_at',
};
/** On SQLite a webhook's wrapped key is in a key slot: its view shows the same columns. */
const selectAll = (table: string, engine: string) =>
  `SELECT ${COLUMNS[table] ?? '*'} FROM ${engine === 'sqlite' && table === 'webhooks' ? 'sealed_webhooks' : table}`;

/**
 * Everything but the audit trail, as one comparable string: two equal fingerprints mean no tenant,
 * key, store, secret or version was added, changed or removed in between.
 */
export async function dataFingerprint(server: TestServer): Promise<string> {
  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v));
  const render = (table: string, rows: Record<string, unknown>[]) =>
    rows
      .map((row) => `${table}\t${Object.values(row).map(text).join('\t')}`)
      .sort()
      .join('\n');
  if (server.engine === 'sqlite') {
    const db = openDatabaseFile(server.dataDir, { readonly: true });
    try {
      return DATA_TABLES.map((t) =>
        render(t, db.prepare(selectAll(t, 'sqlite')).all() as Record<string, unknown>[]),
      ).join('\n');
    } finally {
      db.close();
    }
  }
  return withServerSchema(server, async (c) => {
    const parts: string[] = [];
    for (const t of DATA_TABLES) parts.push(render(t, (await c.query(selectAll(t, 'postgres'))).rows));
    return parts.join('\n');
  });
}

/** Deletes a chain's oldest events up to `seq`, as retention would (the head stays). */
export async function pruneAuditEvents(server: TestServer, tenantId: string, seq: number): Promise<void> {
  if (server.engine === 'sqlite') {
    const db = openDatabaseFile(server.dataDir);
    try {
      db.prepare('DELETE FROM audit_events WHERE tenant_id = ? AND seq <= ?').run(tenantId, seq);
    } finally {
      db.close();
    }
    return;
  }
  await withServerSchema(server, async (c) => {
    await c.query('DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2', [tenantId, seq]);
  });
}
