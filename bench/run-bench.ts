import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { measureCliStartup } from './cli-startup.js';

/**
 * `npm run bench`: a real Coffer (the `coffer serve` binary, SQLite, and PostgreSQL when reachable)
 * under autocannon over loopback, beside Node's bare http server as the floor, measured in one run.
 * Prints a table and writes BENCHMARKS.md. Never part of `npm test`.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/coffer.js');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const BIG = Number(process.env.BENCH_BIG_COUNT ?? 1_000_000);
/**
 * `BENCH_ONLY=sqlite,postgres,nodes,big` (any of them) runs only those parts, after the bare-http
 * floor, and prints without rewriting BENCHMARKS.md; `BENCH_ONLY=cli`: the CLI start-up alone.
 */
const ONLY = process.env.BENCH_ONLY === undefined ? null : new Set(process.env.BENCH_ONLY.split(','));
const runs = (part: string): boolean => ONLY === null || ONLY.has(part);
/** A directory: every `coffer serve` of the run writes a V8 CPU profile there (`node --cpu-prof`). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF ?? null;
/** How often the multi-node bench looks at pg_stat_activity during the read load. */
const LOCK_SAMPLE_MS = 10;

interface Row {
  scenario: string;
  engine: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const rows: Row[] = [];
const notes: string[] = [];

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface Coffer {
  child: ChildProcess;
  url: string;
  token: string;
  coldStartMs: number;
}

async function startCoffer(env: Record<string, string>, token?: string): Promise<Coffer> {
  // A free port chosen here, so the URL is known at once: finding it from the process's sockets
  // meant running `ss` every millisecond, processes that competed with the start being measured.
  const port = await freePort();
  const started = process.hrtime.bigint();
  const profile = CPU_PROF_DIR === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`];
  const child = spawn(process.execPath, [...profile, BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bootstrap = token === undefined ? waitForLine(child, /(coffer_[0-9A-Za-z]{49})/) : null;
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    if (child.exitCode !== null) throw new Error('coffer serve exited during start-up');
    await new Promise((r) => setTimeout(r, 2));
  }
  const coldStartMs = Number(process.hrtime.bigint() - started) / 1e6;
  const resolvedToken = token ?? (await bootstrap)?.[1] ?? '';
  return { child, url, token: resolvedToken, coldStartMs };
}

/** A loopback port nothing listens on now (the server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Requests of a run that did not get a 2xx: errors, timeouts and other statuses. */
function failures(result: Awaited<ReturnType<typeof autocannon>>): number {
  return result.errors + result.timeouts + result.non2xx;
}

async function load(
  scenario: string,
  engine: string,
  options: Parameters<typeof autocannon>[0],
): Promise<Row> {
  const result = await autocannon({ duration: DURATION, ...options });
  const errors = failures(result);
  return report({
    scenario,
    engine,
    connections: options.connections ?? 10,
    // A run of a fixed `amount` ends within a second: its per-second average would count that part.
    rps: Math.round(
      options.amount === undefined ? result.requests.average : result.requests.total / result.duration,
    ),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
  });
}

function report(row: Row): Row {
  rows.push(row);
  const { scenario, engine, errors } = row;
  process.stdout.write(
    `${scenario.padEnd(44)} ${engine.padEnd(8)} c=${String(row.connections).padEnd(3)} ${String(row.rps).padStart(7)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms${errors ? `  (${errors} non-2xx/errors)` : ''}\n`,
  );
  return row;
}

/**
 * Targets loaded in alternating rounds, each run `seconds` long, so that a machine whose speed
 * drifts during the run moves them alike: one row each, req/s over all its runs, p50 and p99 the
 * median of its runs'.
 */
async function alternate(
  rounds: number,
  seconds: number,
  targets: readonly { scenario: string; engine: string; options: Parameters<typeof autocannon>[0] }[],
): Promise<void> {
  const results = targets.map(() => [] as Awaited<ReturnType<typeof autocannon>>[]);
  for (let round = 0; round < rounds; round++) {
    // a b, b a, a b, …: the first target of a round ran measurably faster (the one before it still
    // finishes its audit commits and checkpoint while the next is loaded), so each goes first as often.
    const order = [...targets.keys()];
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const target = targets[i];
      if (target !== undefined) results[i]?.push(await autocannon({ ...target.options, duration: seconds }));
    }
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? NaN;
  for (const [i, target] of targets.entries()) {
    const runs = results[i] ?? [];
    const total = runs.reduce((sum, r) => sum + r.requests.total, 0);
    const elapsed = runs.reduce((sum, r) => sum + r.duration, 0);
    report({
      scenario: target.scenario,
      engine: target.engine,
      connections: target.options.connections ?? 10,
      rps: Math.round(total / elapsed),
      p50: median(runs.map((r) => r.latency.p50)),
      p99: median(runs.map((r) => r.latency.p99)),
      errors: runs.reduce((sum, r) => sum + failures(r), 0),
    });
  }
}

async function put(url: string, token: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${url}/api/default/secrets/${key}`, {
    method: 'PUT',
    headers: { 'x-api-key': token, 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  if (res.status !== 204) throw new Error(`seed PUT ${key}: ${res.status}`);
}

async function benchEngine(engine: string, env: Record<string, string>): Promise<void> {
  const coffer = await startCoffer(env);
  notes.push(
    `${engine}: cold start to /readyz ${coffer.coldStartMs.toFixed(0)} ms; RSS at idle ${rssMb(coffer.child.pid)} MB`,
  );
  const auth = { 'x-api-key': coffer.token };
  await put(coffer.url, coffer.token, 'bench-read', 'a-typical-secret-value-of-some-forty-bytes');
  const readUrl = `${coffer.url}/api/default/secrets/bench-read`;
  for (const connections of [1, 10, 50]) {
    await load('GET value (Neostore)', engine, { url: readUrl, connections, headers: auth });
  }
  // Durable PUTs of new versions of 1,000 secrets (`prefix`-0 … 999), round robin.
  const putLoad = (scenario: string, prefix: string, more: { amount?: number } = {}) => {
    let n = 0;
    return load(scenario, engine, {
      url: coffer.url,
      connections: 50,
      ...more,
      requests: [
        {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ value: 'a-typical-secret-value-of-some-forty-bytes' }),
          setupRequest: (req) => ({ ...req, path: `/api/default/secrets/${prefix}-${n++ % 1000}` }),
        },
      ],
    });
  };
  await putLoad('PUT value (durable)', 'put');
  // The same PUT with nothing to prune: 1,000 other secrets written 10 times each (the first write
  // creates it; 10 versions are kept), so no commit waits for the WAL scrub that follows a commit
  // that removed sealed bytes (ADR 0008, SQLite). In the run above a secret's 11th write prunes: the
  // PUTs after the first 10,000 (most of the run on a fast day; a few or none on a slow one).
  await putLoad('PUT value (durable), nothing pruned', 'fresh', { amount: 10_000 });
  // 1,000 names for the list (the PUT run left up to 1,000 put-* secrets: top up to exactly 1,000 more).
  const listTenant = 'lister';
  const token = execFileSync(
    process.execPath,
    [BIN, 'keys', 'create', '--tenant', listTenant, '--name', 'bench', '--permission', '*'],
    { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
  ).trim();
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        fetch(`${coffer.url}/api/${listTenant}/secrets/name-${String(i + j).padStart(4, '0')}`, {
          method: 'PUT',
          headers: { 'x-api-key': token, 'content-type': 'application/json' },
          body: '{"value":"v"}',
        }),
      ),
    );
  }
  await load('GET list of 1,000 names', engine, {
    url: `${coffer.url}/api/${listTenant}/secrets`,
    connections: 50,
    headers: { 'x-api-key': token },
  });
  const stores = (await (
    await fetch(`${coffer.url}/client/v4/accounts/${listTenant}/secrets_store/stores`, {
      headers: { authorization: `Bearer ${token}` },
    })
  ).json()) as { result?: { id: string }[] };
  const storeId = stores.result?.[0]?.id;
  if (storeId !== undefined) {
    await load('Cloudflare list page of 100', engine, {
      url: `${coffer.url}/client/v4/accounts/${listTenant}/secrets_store/stores/${storeId}/secrets?per_page=100`,
      connections: 50,
      headers: { authorization: `Bearer ${token}` },
    });
  }
  await load('bad token → 401', engine, {
    url: readUrl,
    connections: 50,
    headers: { 'x-api-key': 'coffer_0000000000000000000000000000000000000000000000000' },
  }).then((row) => {
    // Every answer is a 401 here, which autocannon counts as non-2xx: that is the point.
    row.errors = 0;
  });
  await stopProcess(coffer.child);
}

async function benchBig(env: Record<string, string>, dataDir: string): Promise<void> {
  // The same read with 1,000 and with BIG secrets stored, BIG seeded through the core's batch create
  // into a copy of the 1,000-secret data directory. Both servers run side by side and are loaded in
  // alternating rounds: compared one after the other, minutes apart, the machine's drift was as
  // large as the difference being measured.
  const small = await startCoffer(env);
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => put(small.url, small.token, `k-${i + j}`, `value-${i + j}`)),
    );
  }
  await stopProcess(small.child);
  const smallDir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-small-'));
  const servers: Coffer[] = [];
  try {
    cpSync(dataDir, smallDir, { recursive: true });
    const seeded = JSON.parse(
      execFileSync(
        process.execPath,
        [join(ROOT, 'dist/bench/seed-secrets.js'), dataDir, 'default', String(BIG)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      ),
    ) as { count: number; seconds: number };
    notes.push(
      `sqlite: seeded ${seeded.count.toLocaleString('en')} secrets (real sealed versions, batches of 5,000) in ${seeded.seconds.toFixed(1)} s (${Math.round(seeded.count / seeded.seconds).toLocaleString('en')}/s)`,
    );
    const big = await startCoffer(env, small.token);
    servers.push(big);
    notes.push(
      `sqlite: cold start to /readyz with ${BIG.toLocaleString('en')} secrets ${big.coldStartMs.toFixed(0)} ms`,
    );
    const smallAgain = await startCoffer({ ...env, COFFER_DATA_DIR: smallDir }, small.token);
    servers.push(smallAgain);
    const auth = { 'x-api-key': small.token };
    // One name each, read over and over (a hot secret): k-500 among 1,000, seed-0500000 among BIG.
    await alternate(4, Math.max(2, Math.round(DURATION / 2)), [
      {
        scenario: 'GET value, 1,000 secrets stored',
        engine: 'sqlite',
        options: { url: `${smallAgain.url}/api/default/secrets/k-500`, connections: 50, headers: auth },
      },
      {
        scenario: `GET value, ${BIG.toLocaleString('en')} secrets stored`,
        engine: 'sqlite',
        options: {
          url: `${big.url}/api/default/secrets/seed-${String(Math.floor(BIG / 2)).padStart(7, '0')}`,
          connections: 50,
          headers: auth,
        },
      },
    ]);
    notes.push(`sqlite: RSS after the ${BIG.toLocaleString('en')}-secret run ${rssMb(big.child.pid)} MB`);
  } finally {
    for (const server of servers) await stopProcess(server.child);
    rmSync(smallDir, { recursive: true, force: true });
  }
}

/**
 * Samples pg_stat_activity every LOCK_SAMPLE_MS while `during` runs: the share of samples in which
 * at least one of the bench's backends (its application_name) waits on a lock (wait_event_type
 * 'Lock': a row or relation lock, such as a chain head locked until another backend's COMMIT).
 */
async function sampleLockWaits<T>(
  url: string,
  applicationName: string,
  during: Promise<T>,
): Promise<{ result: T; share: number; samples: number }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let done = false;
  let samples = 0;
  let waiting = 0;
  const sampler = (async () => {
    while (!done) {
      const res = await client.query<{ waiting: string }>(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting
           FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [applicationName],
      );
      samples += 1;
      if (Number(res.rows[0]?.waiting ?? 0) > 0) waiting += 1;
      await new Promise((r) => setTimeout(r, LOCK_SAMPLE_MS));
    }
  })();
  try {
    const result = await during;
    return { result, share: samples === 0 ? Number.NaN : waiting / samples, samples };
  } finally {
    done = true;
    await sampler;
    await client.end();
  }
}

/**
 * Reads and durable writes against 1, 2 and 3 nodes on one PostgreSQL, 50 connections split evenly;
 * during the reads, the share of pg_stat_activity samples in which a backend waits on a lock.
 */
async function benchNodes(
  env: Record<string, string>,
  sampleUrl: string,
  applicationName: string,
): Promise<void> {
  const nodes: Coffer[] = [];
  try {
    nodes.push(await startCoffer(env));
    const token = nodes[0]?.token ?? '';
    await put(nodes[0]?.url ?? '', token, 'bench-read', 'a-typical-secret-value-of-some-forty-bytes');
    for (const count of [1, 2, 3]) {
      while (nodes.length < count) nodes.push(await startCoffer(env, token));
      const share = Math.floor(50 / count);
      for (const kind of ['GET', 'PUT'] as const) {
        let n = 0;
        const loads = Promise.all(
          nodes.map((node) =>
            autocannon({
              url: node.url,
              connections: share,
              duration: DURATION,
              requests: [
                kind === 'GET'
                  ? {
                      method: 'GET',
                      path: '/api/default/secrets/bench-read',
                      headers: { 'x-api-key': token },
                    }
                  : {
                      method: 'PUT',
                      headers: { 'x-api-key': token, 'content-type': 'application/json' },
                      body: '{"value":"a-typical-secret-value-of-some-forty-bytes"}',
                      setupRequest: (req) => ({ ...req, path: `/api/default/secrets/nodes-${n++ % 1000}` }),
                    },
              ],
            }),
          ),
        );
        const sampled = kind === 'GET' ? await sampleLockWaits(sampleUrl, applicationName, loads) : null;
        const results = sampled?.result ?? (await loads);
        const perNode = results.map((r) => Math.round(r.requests.average));
        const rps = perNode.reduce((sum, x) => sum + x, 0);
        const p99 = Math.max(...results.map((r) => r.latency.p99));
        const errors = results.reduce((sum, r) => sum + failures(r), 0);
        nodeRows.push({
          nodes: count,
          kind,
          rps,
          perNode,
          p99,
          errors,
          lockShare: sampled?.share ?? null,
          samples: sampled?.samples ?? 0,
        });
        process.stdout.write(
          `${count} node(s) ${kind.padEnd(4)} ${String(rps).padStart(7)} req/s (${perNode.join(' + ')})  p99 ${p99} ms${
            sampled === null
              ? ''
              : `  lock waits in ${(sampled.share * 100).toFixed(1)}% of ${sampled.samples} samples`
          }\n`,
        );
      }
    }
  } finally {
    for (const node of nodes) await stopProcess(node.child);
  }
}

const nodeRows: {
  nodes: number;
  kind: string;
  rps: number;
  perNode: number[];
  p99: number;
  errors: number;
  lockShare: number | null;
  samples: number;
}[] = [];

async function postgresReachable(url: string): Promise<boolean> {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

function table(): string {
  const floor = rows.find((r) => r.scenario === 'bare node:http (floor)')?.rps ?? Number.NaN;
  const lines = [
    '| scenario | engine | connections | req/s | p50 ms | p99 ms | × bare http |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.engine} | ${r.connections} | ${r.rps.toLocaleString('en')} | ${r.p50} | ${r.p99} | ${(r.rps / floor).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in BENCHMARKS.md. */
function writeBlock(name: string, report: string): void {
  const target = join(ROOT, 'BENCHMARKS.md');
  const existing = (() => {
    try {
      return readFileSync(target, 'utf8');
    } catch {
      return '# Benchmarks\n';
    }
  })();
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${report}${end}`;
  writeFileSync(
    target,
    existing.includes(start)
      ? existing.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => block)
      : `${existing.trimEnd()}\n\n${block}\n`,
  );
}

/**
 * What the disk under the data directories does right now: 4 KiB writes, each followed by fsync, for
 * `seconds`. Every durable figure here (PUT, and GET: each read's audit event is fsynced before the
 * answer) is bounded by this latency, which other work on a shared machine can move tenfold.
 */
function diskSyncRate(seconds = 3): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-disk-'));
  const fd = openSync(join(dir, 'probe'), 'w');
  const page = Buffer.alloc(4096, 1);
  const latencies: number[] = [];
  try {
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const t = performance.now();
      writeSync(fd, page, 0, page.length, (latencies.length % 256) * 4096);
      fsyncSync(fd);
      latencies.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies[Math.floor(latencies.length * q)] ?? Number.NaN).toFixed(2);
  return `${Math.round(latencies.length / seconds).toLocaleString('en')} synchronous 4 KiB writes/s (fsync p50 ${at(0.5)} ms, p99 ${at(0.99)} ms)`;
}

/** `coffer` start-up, first, while nothing else of the bench runs. `BENCH_ONLY=cli` stops after it. */
function benchCliStartup(): void {
  const report = measureCliStartup(BIN);
  process.stdout.write(`\nCLI start-up:\n${report}`);
  writeBlock('bench-cli', report);
}

async function main(): Promise<void> {
  if (ONLY === null || ONLY.has('cli')) benchCliStartup();
  if (process.env.BENCH_ONLY === 'cli') return;
  const startedAt = Date.now();
  const diskBefore = diskSyncRate();
  process.stdout.write(`disk: ${diskBefore}\n`);
  const bare = spawn(process.execPath, [join(ROOT, 'dist/bench/bare-server.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = (await waitForLine(bare, /listening (\d+)/))[1];
  await load('bare node:http (floor)', '-', { url: `http://127.0.0.1:${port}/`, connections: 50 });
  await stopProcess(bare);

  if (runs('sqlite')) {
    const sqliteDir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-'));
    try {
      await benchEngine('sqlite', { COFFER_DATA_DIR: sqliteDir });
    } finally {
      rmSync(sqliteDir, { recursive: true, force: true });
    }
  }

  const pgUrl = process.env.COFFER_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  if (!runs('postgres') && !runs('nodes')) {
    // not asked for
  } else if (await postgresReachable(pgUrl)) {
    const pgDir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-pg-'));
    const { default: pg } = await import('pg');
    const schema = `coffer_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      // The application name tells this run's backends apart from anything else on the server.
      const url = `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}&application_name=${schema}`;
      if (runs('postgres')) {
        await benchEngine('postgres', { COFFER_DATA_DIR: pgDir, COFFER_DATABASE_URL: url });
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.query(`CREATE SCHEMA ${schema}`);
      }
      if (runs('nodes')) {
        await benchNodes(
          {
            COFFER_DATA_DIR: pgDir,
            COFFER_DATABASE_URL: url,
            COFFER_MASTER_KEY: randomBytes(32).toString('base64'),
          },
          pgUrl,
          schema,
        );
      }
    } catch (error) {
      notes.push(`postgres: not measured (${(error as Error).message.split('\n')[0]})`);
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
      rmSync(pgDir, { recursive: true, force: true });
    }
  } else {
    notes.push('postgres: not reachable, not measured');
  }

  if (runs('big')) {
    const bigDir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-big-'));
    try {
      await benchBig({ COFFER_DATA_DIR: bigDir, COFFER_SECRET_QUOTA: String(BIG + 10_000) }, bigDir);
    } finally {
      rmSync(bigDir, { recursive: true, force: true });
    }
  }

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const header = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}.`,
    `autocannon in the same process tree as the servers, over loopback, ${DURATION} s per scenario; the load generator shares the two cores.`,
  ];
  const nodesTable =
    nodeRows.length === 0
      ? []
      : [
          '',
          'Several nodes on one PostgreSQL, all reading (or writing) tenant `default` (50 connections split evenly across the nodes, all on this 2-core machine). Lock waits: share of `pg_stat_activity` samples (every ' +
            `${LOCK_SAMPLE_MS} ms during the reads) in which one of the run's backends waited on a lock (\`wait_event_type = 'Lock'\`).`,
          '',
          '| nodes | request | req/s (sum) | req/s per node | worst p99 ms | non-2xx | lock waits (samples) |',
          '|---:|---|---:|---|---:|---:|---:|',
          ...nodeRows.map(
            (r) =>
              `| ${r.nodes} | ${r.kind} | ${r.rps.toLocaleString('en')} | ${r.perNode.map((x) => x.toLocaleString('en')).join(' / ')} | ${r.p99} | ${r.errors} | ${
                r.lockShare === null ? '-' : `${(r.lockShare * 100).toFixed(1)}% (${r.samples})`
              } |`,
          ),
        ];
  notes.push(
    `disk under the data directories: ${diskBefore} at the start of the run, ${diskSyncRate()} at the end`,
  );
  notes.push(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(', ')} (other work on the machine shares the two cores and the disk)`,
  );
  notes.push(
    `${ONLY === null ? 'the whole run (bare http, SQLite, PostgreSQL, several nodes, 1,000,000 secrets; without the CLI start-up and the build)' : `this run (bare http, ${[...ONLY].join(', ')})`} took ${((Date.now() - startedAt) / 60_000).toFixed(1)} min`,
  );
  const report = [...header, '', table(), ...nodesTable, '', ...notes.map((n) => `- ${n}`), ''].join('\n');
  process.stdout.write(`\n${report}`);
  // A partial run (BENCH_ONLY) prints only: the block in BENCHMARKS.md is one whole run.
  if (ONLY === null) writeBlock('bench', report);
}

await main();
