import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The database the PostgreSQL tests use; each test gets a schema of its own inside it. */
export const TEST_DATABASE_URL =
  process.env.COFFER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  readonly schema: string;
  /** TEST_DATABASE_URL with `search_path` set to the schema, so Coffer's tables land there. */
  readonly url: string;
  drop(): Promise<void>;
}

/** `url` with its connection parameters set (e.g. application_name), others kept. */
export function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Runs `fn` on a short-lived connection to the test database (outside Coffer's pools). */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A freshly created, empty schema `coffer_test_<random>`; `drop()` removes it and everything in it. */
export async function createTestSchema(): Promise<TestSchema> {
  const schema = `coffer_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    schema,
    url: withParams(TEST_DATABASE_URL, { options: `-c search_path=${schema}` }),
    drop: () => withAdminClient(async (c) => void (await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))),
  };
}
