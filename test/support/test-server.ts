import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildRuntime, type Runtime } from '../../src/composition/runtime.js';
import { packageVersion } from '../../src/cli/serve-command.js';
import { parseConfig } from '../../src/config.js';
import { OPERATOR } from '../../src/core/actor.js';
import type { AuditSink } from '../../src/core/audit-trail.js';
import type { Clock } from '../../src/core/clock.js';
import { startServer } from '../../src/composition/server.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import type { FileSync } from '../../src/storage/sqlite/sqlite-repository.js';
import { createTestSchema, type TestSchema } from './postgres-test-schema.js';
import { tempDir } from './temp-dir.js';

export type TestEngine = 'sqlite' | 'postgres';

/**
 * The engine the HTTP suites run on: COFFER_TEST_ENGINE=postgres gives each test server a fresh
 * PostgreSQL schema (dropped on close); unset or `sqlite`, a SQLite file in the data directory.
 * `npm test` runs the suites once per engine (scripts/run-tests.sh).
 */
export function testEngine(): TestEngine {
  const raw = process.env.COFFER_TEST_ENGINE ?? 'sqlite';
  if (raw !== 'sqlite' && raw !== 'postgres') {
    throw new Error(`COFFER_TEST_ENGINE must be sqlite or postgres, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

export interface TestServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly dataDir: string;
  /** The engine this server's data lives in. */
  readonly engine: TestEngine;
  /** PostgreSQL: the URL (search_path set to the server's schema); SQLite: null. */
  readonly databaseUrl: string | null;
  /** Token of the bootstrap key `admin` (permission `*`) of tenant `default`. */
  readonly adminToken: string;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** The server's own metrics registry (shared by the app, the core and the repository). */
  readonly metrics: PrometheusMetrics;
  /** Creates a key through the core as the operator (the tenant is created if new); returns its token. */
  createKey(tenant: string, name: string, permissions: string[]): Promise<string>;
  /** Creates a platform service credential; returns its token. */
  createService(name: string): Promise<string>;
  /** Stops listening and closes the database; removes the data directory unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real Coffer on a random loopback port, over a real SQLite file in a temp directory (or `dataDir`),
 * or a fresh PostgreSQL schema (`engine`, default testEngine(); `env.COFFER_DATABASE_URL` wins).
 * `env` is parsed exactly as the server parses its environment. The core is opened by buildRuntime and
 * served by startServer, the composition root `coffer serve` uses, with `clock` and `auditSink`
 * injected when given.
 */
export async function startTestServer(
  options: {
    dataDir?: string;
    env?: Record<string, string>;
    clock?: Clock;
    auditSink?: AuditSink;
    defaultMetrics?: boolean;
    engine?: TestEngine;
    /** SQLite: replaces the fsync of the WAL after each COMMIT (test/storage/sqlite-durability). */
    syncWal?: FileSync;
    /** Compile every route schema before listening, as a start-up check (they compile lazily). */
    compileSchemasAtStart?: boolean;
  } = {},
): Promise<TestServer> {
  const temp = options.dataDir === undefined ? tempDir() : null;
  const dataDir = options.dataDir ?? temp?.path ?? '';
  const given = options.env?.COFFER_DATABASE_URL;
  const schema: TestSchema | null =
    given === undefined && (options.engine ?? testEngine()) === 'postgres' ? await createTestSchema() : null;
  const engine: TestEngine = given !== undefined || schema !== null ? 'postgres' : 'sqlite';
  // Suites that sweep bad credentials over every route would trip the failed-authentication limit
  // (all their requests come from 127.0.0.1); test/hardening turns it on where it is the subject.
  const config = parseConfig({
    COFFER_AUTH_FAILURE_LIMIT: '0',
    ...(schema === null ? {} : { COFFER_DATABASE_URL: schema.url }),
    ...options.env,
    COFFER_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  // Default process metrics off: each registry would start its own collectors (event-loop monitor,
  // GC observer) and a test process starts many servers. test/observability turns them on.
  const metrics = new PrometheusMetrics({ defaultMetrics: options.defaultMetrics ?? false });
  const runtime: Runtime = await buildRuntime(config, {
    metrics,
    // As `coffer serve` does.
    checkpointInWorker: true,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.auditSink === undefined ? {} : { auditSink: options.auditSink }),
    listenForChanges: true,
    ...(options.syncWal === undefined ? {} : { syncWal: options.syncWal }),
  });
  const { app, url, created } = await startServer(runtime, {
    logger: pino({ level: 'silent' }),
    metrics,
    version: packageVersion(),
    host: '127.0.0.1',
    port: 0,
    ...(options.compileSchemasAtStart === undefined
      ? {}
      : { compileSchemasAtStart: options.compileSchemasAtStart }),
  });
  return {
    url,
    dataDir,
    engine,
    databaseUrl: config.databaseUrl,
    adminToken: created?.token ?? '',
    runtime,
    app,
    metrics,
    async createKey(tenant, name, permissions) {
      return (await runtime.core.apiKeys.create(OPERATOR, tenant, { name, permissions })).token;
    },
    async createService(name) {
      return (await runtime.core.services.create(OPERATOR, name)).token;
    },
    async close(closeOptions = {}) {
      await app.close();
      await runtime.close();
      if (!closeOptions.keepData) {
        temp?.remove();
        await schema?.drop();
      }
    },
  };
}

/** Repository calls so far, per operation: the counts of coffer_db_operation_duration_seconds. */
export async function dbCalls(server: Pick<TestServer, 'metrics'>): Promise<Map<string, number>> {
  const metric = server.metrics.registry.getSingleMetric('coffer_db_operation_duration_seconds');
  if (metric === undefined) throw new Error('coffer_db_operation_duration_seconds is not registered');
  const calls = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const name = (v as { metricName?: string }).metricName;
    if (name?.endsWith('_count')) {
      const op = String(v.labels.operation);
      calls.set(op, (calls.get(op) ?? 0) + v.value);
    }
  }
  return calls;
}
