import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { childListeners, inProcessListeners, type Listeners, SSE_GZIP } from './notification-listeners.js';

/**
 * `node dist/bench/notifications-bench.js` (after `npm run build`): durable write throughput of a real
 * `coffer serve` with no listener, then with 10 webhooks delivering to a local receiver and 100 SSE
 * subscribers reading the tenant's change stream (issue 19: writes must not slow down by more than
 * 10%). Runs SQLite, and PostgreSQL when reachable; writes the `notifications` block of BENCHMARKS.md.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * BENCH_COFFER: the checkout whose `coffer serve` is measured (default this one): an A/B of two
 * builds with the same bench, e.g. `BENCH_COFFER=../main node dist/bench/notifications-bench.js`.
 */
const BIN = join(process.env.BENCH_COFFER ?? ROOT, 'bin/coffer.js');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
/**
 * Rounds (default 8): two 10 s runs of the same server differ by up to 10% on this machine whatever
 * their condition, so a change of a few percent needs the median of several rounds.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PG_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** BENCH_WEBHOOKS, BENCH_SUBSCRIBERS: the listeners of the loaded runs (default 10 and 100). */
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 10);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
const ONLY_SQLITE = process.env.BENCH_ONLY_SQLITE === '1';
/** BENCH_ONLY_POSTGRES=1: the PostgreSQL runs alone (the SQLite ones skipped). */
const ONLY_POSTGRES = process.env.BENCH_ONLY_POSTGRES === '1';
/**
 * BENCH_RATE: PUTs a second, all connections together (default: as many as the server answers). At a
 * fixed rate both conditions do the same work a second, so the CPU per PUT they cost compares even
 * when a busy machine holds the server below its throughput (the listeners' costs per second would
 * otherwise be spread over fewer PUTs in the slower run).
 */
const RATE = process.env.BENCH_RATE === undefined ? null : Number(process.env.BENCH_RATE);
/**
 * BENCH_LISTENERS=inline: the receiver and the subscribers in this process, sharing autocannon's event
 * loop (as the first measurements did); default: in a child process of their own.
 */
const INLINE_LISTENERS = process.env.BENCH_LISTENERS === 'inline';
/** A directory: `coffer serve` writes a V8 CPU profile there (`node --cpu-prof`). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF ?? null;
/** BENCH_NODE_FLAGS: flags for the server's node (e.g. `--trace-gc`), space-separated. */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
/** BENCH_SERVER_LOG: a file the server's output is appended to (by default it is read and dropped). */
const SERVER_LOG = process.env.BENCH_SERVER_LOG ?? null;
/**
 * BENCH_PIN=1 (where `taskset` works and there are at least two cores): `coffer serve` runs on CPU 0
 * alone, and this process (autocannon) and the listeners' process on the other CPUs, so the
 * subscribers' and the receiver's CPU (programs of other machines, in production) is not taken from
 * the server's. PostgreSQL's backends are not pinned. Off by default: the figures in BENCHMARKS.md
 * were measured unpinned, and pinned, the server also loses the second core its GC and threadpool use.
 */
const PIN = process.env.BENCH_PIN === '1' && os.cpus().length >= 2 && pinSelf();
const KINDS = ['secret.created', 'secret.value-set'];
const VALUE = JSON.stringify({ value: 'a-typical-secret-value-of-some-forty-bytes' });

interface Coffer {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
}

/** Moves this process (every thread, and the children it starts later) off CPU 0; false where it cannot. */
function pinSelf(): boolean {
  const others = `1-${os.cpus().length - 1}`;
  return (
    spawnSync('taskset', ['-a', '-p', '-c', others, String(process.pid)], { stdio: 'ignore' }).status === 0
  );
}

function startCoffer(env: Record<string, string>): Promise<Coffer> {
  const profile = CPU_PROF_DIR === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`];
  const node = [process.execPath, ...profile, ...NODE_FLAGS, BIN, 'serve'];
  // taskset execs node in its own process, so the child's pid is the server's (its CPU time is read).
  const [command, ...args] = PIN ? ['taskset', '-c', '0', ...node] : node;
  if (SERVER_LOG !== null) process.stderr.write(`  server spawned ${process.hrtime.bigint() / 1000n}\n`);
  const child = spawn(command ?? process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coffer serve did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = /(coffer_[0-9A-Za-z]{49})/.exec(out)?.[1];
      if (url !== undefined && token !== undefined) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        if (SERVER_LOG !== null) {
          const log = createWriteStream(SERVER_LOG, { flags: 'a' });
          child.stdout?.pipe(log);
          child.stderr?.pipe(log);
        } else {
          child.stdout?.resume();
          child.stderr?.resume();
        }
        resolve({ child, url, token });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * CPU time (user + system, every thread) the process has used, in µs; null where /proc is not there.
 * Per request, it is what the server spends on a write whatever else runs on the machine: on a shared
 * machine, req/s also moves with the neighbours' load.
 */
function cpuMicros(
  pid: number | undefined,
): { user: number; system: number; mainUser: number; mainSystem: number } | null {
  try {
    const times = (path: string) => statTimes(readFileSync(path, 'utf8'));
    const [user, system] = times(`/proc/${pid}/stat`);
    // The main thread (its id is the process's): the event loop; the rest is libuv's pool, GC, workers.
    const [mainUser, mainSystem] = times(`/proc/${pid}/task/${pid}/stat`);
    return { user, system, mainUser, mainSystem };
  } catch {
    return null;
  }
}
/**
 * CPU time (user + system) every process named `postgres` has used, in µs: the database's backends
 * and its background processes (on this machine, the server's database; nothing else uses it while
 * the bench runs). Null where /proc is not there.
 */
function databaseCpuMicros(): number | null {
  try {
    let total = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const [user, system] = statTimes(stat);
      total += user + system;
    }
    return total;
  } catch {
    return null;
  }
}

/** User and system CPU time of a /proc/<pid>/stat line, µs (after the command, which may hold spaces). */
function statTimes(stat: string): readonly [number, number] {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [(Number(fields[11]) * 1e6) / CLOCK_TICKS, (Number(fields[12]) * 1e6) / CLOCK_TICKS];
}

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux. */
const CLOCK_TICKS = 100;

/** Durable PUTs (new versions of 1,000 secrets of the Neostore store) at 50 connections: req/s. */
async function writes(coffer: Coffer): Promise<{
  rps: number;
  p99: number;
  errors: number;
  cpuPerRequest: number | null;
  databaseCpuPerRequest: number | null;
}> {
  let n = 0;
  const cpuBefore = cpuMicros(coffer.child.pid);
  const databaseBefore = databaseCpuMicros();
  const startedAt = process.hrtime.bigint() / 1000n;
  const result = await autocannon({
    url: coffer.url,
    connections: 50,
    duration: DURATION,
    ...(RATE === null ? {} : { overallRate: RATE }),
    requests: [
      {
        method: 'PUT',
        headers: { 'x-api-key': coffer.token, 'content-type': 'application/json' },
        body: VALUE,
        setupRequest: (req) => ({ ...req, path: `/api/default/secrets/put-${n++ % 1000}` }),
      },
    ],
  });
  const cpuAfter = cpuMicros(coffer.child.pid);
  const databaseAfter = databaseCpuMicros();
  // The run's span on the monotonic clock a --cpu-prof profile's timestamps use (µs).
  if (CPU_PROF_DIR !== null || SERVER_LOG !== null) {
    process.stderr.write(`  profile span ${startedAt} ${process.hrtime.bigint() / 1000n}\n`);
  }
  const total = result.requests.total;
  const perRequest = (part: 'user' | 'system' | 'mainUser' | 'mainSystem') =>
    cpuBefore === null || cpuAfter === null || total === 0
      ? null
      : Math.round((cpuAfter[part] - cpuBefore[part]) / total);
  const user = perRequest('user');
  const system = perRequest('system');
  // Kernel time is where a socket's work lands, over loopback the receiving side's too.
  process.stderr.write(
    `  ${result.requests.average} PUT/s; server CPU per PUT: user ${user} µs, system ${system} µs;` +
      ` main thread ${perRequest('mainUser')} + ${perRequest('mainSystem')} µs\n`,
  );
  return {
    rps: Math.round(result.requests.average),
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuPerRequest: user === null || system === null ? null : user + system,
    databaseCpuPerRequest:
      databaseBefore === null || databaseAfter === null || total === 0
        ? null
        : Math.round((databaseAfter - databaseBefore) / total),
  };
}

/**
 * PostgreSQL (`schema`: the server's): before every measured run, a VACUUM of the server's tables and
 * a CHECKPOINT, so that each run starts in the same state whatever its condition. After a checkpoint
 * begins, the first change of each page writes the whole page into the WAL (full_page_writes), and
 * checkpoints begin every checkpoint_timeout (5 minutes by default): the run that met one cost
 * PostgreSQL more CPU per PUT (seen here: 1,338 µs in a baseline, 1,043–1,120 in the others). An
 * autovacuum that starts during a run (the tables grow by every run) takes CPU the same way. Needs
 * a superuser or pg_checkpoint (PostgreSQL 15); without one, the runs go on without.
 */
async function settleDatabase(schema: string | null): Promise<void> {
  if (schema === null) return;
  const client = new pg.Client({ connectionString: PG_URL });
  try {
    await client.connect();
    const tables = await client.query<{ name: string }>(
      "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = $1",
      [schema],
    );
    for (const { name } of tables.rows) await client.query(`VACUUM ${name}`);
    await client.query('CHECKPOINT');
  } catch (error) {
    process.stderr.write(`  (the database was not settled before the run: ${(error as Error).message})\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function benchEngine(
  engine: string,
  env: Record<string, string>,
  lines: string[],
  schema: string | null = null,
): Promise<void> {
  const listeners: Listeners = INLINE_LISTENERS ? await inProcessListeners() : await childListeners();
  const port = listeners.port;
  const coffer = await startCoffer({
    COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true',
    COFFER_WATCH_LIMIT_KEY: '0',
    COFFER_WATCH_LIMIT_TENANT: '0',
    ...env,
  });
  try {
    // Warm-up, so both measurements find the 1,000 secrets existing.
    await writes(coffer);
    const base: number[] = [];
    const loaded: number[] = [];
    const cpuBase: number[] = [];
    const cpuLoaded: number[] = [];
    let p99Base = 0;
    let p99Loaded = 0;
    let sseEvents = 0;
    const hooks: string[] = [];
    /** Per round: the change of req/s and of CPU per PUT, with against without, in percent. */
    const changes: number[] = [];
    const cpuChanges: number[] = [];
    const json = { authorization: `Bearer ${coffer.token}`, 'content-type': 'application/json' };
    const setEnabled = async (ids: readonly string[], enabled: boolean) => {
      for (const id of ids) {
        await fetch(`${coffer.url}/v1/tenants/default/webhooks/${id}`, {
          method: 'PUT',
          headers: json,
          body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook-${id}`, eventKinds: KINDS, enabled }),
        });
      }
    };
    const baseline = async () => {
      await settleDatabase(schema);
      const b = await writes(coffer);
      base.push(b.rps);
      if (b.cpuPerRequest !== null) cpuBase.push(b.cpuPerRequest);
      p99Base = Math.max(p99Base, b.p99);
      return b;
    };
    const withListeners = async (measured = true) => {
      // Settled before the webhooks are enabled: the backlog they deliver then is the loaded run's.
      await settleDatabase(schema);
      for (let i = hooks.length; i < WEBHOOKS; i++) {
        const res = await fetch(`${coffer.url}/v1/tenants/default/webhooks`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook-${i}`, eventKinds: KINDS }),
        });
        if (res.status !== 201) throw new Error(`webhook: ${res.status} ${await res.text()}`);
        hooks.push(((await res.json()) as { id: string }).id);
      }
      await setEnabled(hooks, true);
      await listeners.subscribe(coffer.url, coffer.token, SUBSCRIBERS);
      const listenersCpu = await listeners.cpu();
      const started = performance.now();
      const l = await writes(coffer);
      const listenersShare = (await listeners.cpu()) - listenersCpu;
      const events = await listeners.unsubscribe();
      if (measured) {
        loaded.push(l.rps);
        if (l.cpuPerRequest !== null) cpuLoaded.push(l.cpuPerRequest);
        p99Loaded = Math.max(p99Loaded, l.p99);
        sseEvents += events;
      }
      // Disabled for the baselines: no webhook delivers while one runs (their backlog waits, and is
      // delivered during the next loaded run, which makes that run the harder one).
      await setEnabled(hooks, false);
      return { ...l, share: Math.round((listenersShare / 10 / (performance.now() - started)) * 100) / 100 };
    };
    // A loaded warm-up as well: the streams', the feed's and the webhooks' code is compiled (V8's
    // optimising compiler shares the server's core when it is pinned) before a loaded run counts.
    await withListeners(false);
    const receivedInWarmUp = await listeners.received();
    // The two conditions in ABBA order (rounds 1, 3, …: without first; rounds 2, 4, …: with first), each
    // round compared within itself: the database grows with every run, and the machine drifts, so
    // a condition always run second would always be measured on a slower server.
    for (let round = 0; round < ROUNDS; round++) {
      let b: Awaited<ReturnType<typeof baseline>>;
      let l: Awaited<ReturnType<typeof withListeners>>;
      if (round % 2 === 0) {
        b = await baseline();
        l = await withListeners();
      } else {
        l = await withListeners();
        b = await baseline();
      }
      changes.push(((l.rps - b.rps) / b.rps) * 100);
      if (b.cpuPerRequest !== null && l.cpuPerRequest !== null && b.cpuPerRequest > 0) {
        cpuChanges.push(((l.cpuPerRequest - b.cpuPerRequest) / b.cpuPerRequest) * 100);
      }
      process.stdout.write(
        `${engine} round ${round + 1} (${round % 2 === 0 ? 'without first' : 'with first'}): ${b.rps} req/s without, ${l.rps} with; server CPU per PUT ${b.cpuPerRequest} µs without, ${l.cpuPerRequest} µs with${engine === 'postgres' ? `; PostgreSQL's processes' CPU per PUT ${b.databaseCpuPerRequest} µs without, ${l.databaseCpuPerRequest} µs with` : ''}; listeners' process ${INLINE_LISTENERS ? '(with autocannon) ' : ''}${l.share}% CPU\n`,
      );
    }
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
    };
    const without = Math.round(median(base));
    const withAll = Math.round(median(loaded));
    // The median of the rounds' own changes (each round's two runs side by side), not the change
    // between the medians of the two columns.
    const change = median(changes);
    const cpuWithout = Math.round(median(cpuBase));
    const cpuWith = Math.round(median(cpuLoaded));
    const cpuChange = median(cpuChanges);
    const received = (await listeners.received()) - receivedInWarmUp;
    const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}%`;
    const spread = [...changes].sort((a, b) => a - b);
    lines.push(
      `| ${engine} | ${without.toLocaleString('en')} | ${p99Base} | ${withAll.toLocaleString('en')} | ${p99Loaded} | ${signed(change)} | ${signed(spread[0] ?? 0)} to ${signed(spread[spread.length - 1] ?? 0)} | ${cpuWithout} | ${cpuWith} | ${cpuChange >= 0 ? '+' : ''}${cpuChange.toFixed(1)}% | ${received.toLocaleString('en')} | ${sseEvents.toLocaleString('en')} |`,
    );
  } finally {
    await stop(coffer.child);
    await listeners.close();
  }
}

async function postgresReachable(): Promise<string | null> {
  const schema = `bench_notify_${process.pid}`;
  const client = new pg.Client({ connectionString: PG_URL });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`CREATE SCHEMA ${schema}`);
    return schema;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-notify-'));
  try {
    if (!ONLY_POSTGRES) await benchEngine('sqlite', { COFFER_DATA_DIR: join(dir, 'sqlite') }, lines);
    const schema = ONLY_SQLITE ? null : await postgresReachable();
    if (schema !== null) {
      const url = new URL(PG_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      await benchEngine(
        'postgres',
        { COFFER_DATA_DIR: join(dir, 'pg'), COFFER_DATABASE_URL: url.toString() },
        lines,
        schema,
      );
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const report = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores, Node ${process.version}:`,
    `durable PUTs at 50 connections${RATE === null ? '' : `, ${RATE} a second`}, ${DURATION} s per run, ${ROUNDS} rounds in ABBA order after a warm-up run of each condition, the change the median of the rounds' own; "with" = 10 enabled`,
    `webhooks (to a local receiver, same machine) and 100 open SSE subscribers on the tenant; the receiver and the subscribers in ${INLINE_LISTENERS ? "the bench's process, with autocannon" : 'a process of their own'};`,
    SSE_GZIP
      ? 'the subscribers send `Accept-Encoding: gzip`, as browsers and fetch do (`BENCH_SSE_GZIP=1`).'
      : 'the subscribers ask for no compression (`BENCH_SSE_GZIP=1`: gzip, as browsers and fetch ask).',
    PIN
      ? '`coffer serve` pinned to CPU 0, autocannon, the receiver and the subscribers to the other CPUs (`BENCH_PIN=1`); PostgreSQL unpinned.'
      : 'Unpinned: `coffer serve`, autocannon, the receiver and the subscribers share every CPU (`BENCH_PIN=1` pins the server to CPU 0).',
    '',
    "Server CPU per PUT: CPU time of the `coffer serve` process (every thread; not PostgreSQL's) over the PUTs it answered,",
    'which the neighbours of a shared machine move less than req/s. PostgreSQL: its tables vacuumed and a CHECKPOINT before every run.',
    '',
    "| engine | PUT req/s, none | p99 ms | PUT req/s, 10 webhooks + 100 SSE | p99 ms | change | rounds' changes | server CPU µs per PUT, none | with | change | webhook requests received | SSE events received |",
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...lines,
    '',
  ].join('\n');
  process.stdout.write(`\n${report}`);
  const target = join(ROOT, 'BENCHMARKS.md');
  const existing = readFileSync(target, 'utf8');
  const start = '<!-- notifications:start -->';
  const end = '<!-- notifications:end -->';
  const block = `${start}\n${report}${end}`;
  writeFileSync(
    target,
    existing.includes(start)
      ? existing.replace(new RegExp(`${start}[\\s\\S]*${end}`), () => block)
      : `${existing.trimEnd()}\n\n## Change notifications (issue 19)\n\n${block}\n`,
  );
}

await main();
