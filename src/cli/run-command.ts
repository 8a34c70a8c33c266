import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { childEnvironment } from './child-environment.js';
import type { CliIo } from './cli.js';
import type { ChangeWatch } from './change-watch.js';
import { openSecretSource } from './secret-source.js';
import { ADDRESS_OPTIONS, targetOf, UsageError } from './store-address.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * `--name-transformer upper-snake`: `db-password` → `DB_PASSWORD`, for stores whose names follow the
 * Neostore or Cloudflare style (Doppler's option of the same name, for `doppler secrets download`).
 */
const NAME_TRANSFORMERS = { 'upper-snake': (name: string) => name.toUpperCase().replace(/-/g, '_') } as const;

function transformerOf(raw: string | undefined): ((name: string) => string) | null {
  if (raw === undefined) return null;
  if (raw !== 'upper-snake') throw new UsageError('--name-transformer must be upper-snake.');
  return NAME_TRANSFORMERS[raw];
}

/** Secrets under the names the child sees; two secrets landing on one name is an error, not a coin toss. */
function renamed<T extends { name: string }>(
  secrets: readonly T[],
  transform: ((name: string) => string) | null,
): T[] | string {
  if (transform === null) return [...secrets];
  const seen = new Map<string, string>();
  const out: T[] = [];
  for (const s of secrets) {
    const name = transform(s.name);
    const earlier = seen.get(name);
    if (earlier !== undefined) return `secrets ${earlier} and ${s.name} would both become ${name}`;
    seen.set(name, s.name);
    out.push({ ...s, name });
  }
  return out;
}

/** `--watch` defaults: the signal a restart sends, how long it waits before SIGKILL, the debounce. */
const WATCH_DEFAULTS = { signal: 'SIGTERM', timeoutSeconds: 10, debounceMs: 500 } as const;

function signalOf(raw: string | undefined): NodeJS.Signals {
  const name = raw === undefined ? WATCH_DEFAULTS.signal : raw.toUpperCase().replace(/^(?!SIG)/, 'SIG');
  if (!(name in constants.signals) || name === 'SIGKILL' || name === 'SIGSTOP') {
    throw new UsageError(
      `--watch-signal must be a signal name such as SIGTERM, SIGINT or SIGHUP, got ${JSON.stringify(raw)}.`,
    );
  }
  return name as NodeJS.Signals;
}

function wholeNumber(raw: string | undefined, option: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d{1,7}$/.test(raw))
    throw new UsageError(`${option} must be a whole number, got ${JSON.stringify(raw)}.`);
  return Number(raw);
}

interface Prepared {
  readonly env: Record<string, string>;
}

/**
 * `coffer run [--tenant T --store S | --env O/P/E] [--only NAME…] [--watch …] -- COMMAND…`: reveals the
 * secrets in one batch, then runs COMMAND with them in its environment, forwarding signals; exits as
 * it does. With `--watch` it restarts COMMAND when one of those secrets changes (docs/cli.md).
 */
export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const separator = argv.indexOf('--');
  if (separator === -1) throw new UsageError('give the command after `--`: coffer run … -- COMMAND [ARGS…]');
  const command = argv.slice(separator + 1);
  const [file, ...args] = command;
  if (file === undefined) throw new UsageError('no command after `--`.');
  const { values } = parseArgs({
    args: argv.slice(0, separator),
    options: {
      ...ADDRESS_OPTIONS,
      only: { type: 'string', multiple: true },
      'allow-env': { type: 'string', multiple: true },
      'name-transformer': { type: 'string' },
      watch: { type: 'boolean' },
      'watch-signal': { type: 'string' },
      'watch-timeout': { type: 'string' },
      'watch-debounce': { type: 'string' },
    },
    strict: true,
  });
  const { address, server } = targetOf(values, io.env);
  const only = values.only === undefined ? null : [...new Set(values.only)];
  const transform = transformerOf(values['name-transformer']);
  const watching = values.watch === true;
  if (
    !watching &&
    (values['watch-signal'] ?? values['watch-timeout'] ?? values['watch-debounce']) !== undefined
  ) {
    throw new UsageError('--watch-signal, --watch-timeout and --watch-debounce go with --watch.');
  }
  const restart = {
    signal: signalOf(values['watch-signal']),
    timeoutMs: wholeNumber(values['watch-timeout'], '--watch-timeout', WATCH_DEFAULTS.timeoutSeconds) * 1000,
    debounceMs: wholeNumber(values['watch-debounce'], '--watch-debounce', WATCH_DEFAULTS.debounceMs),
  };

  const source = await openSecretSource(io.env, server, address, { writes: false });
  /** The child's environment, or the exit code when it cannot be built. */
  const prepare = async (): Promise<Prepared | number> => {
    const revealed = await source.reveal(only);
    if (only !== null && revealed.missing.length > 0) {
      // Starting without a secret it asked for would fail later, and less clearly.
      io.err.write(`coffer: not found or not valid now: ${revealed.missing.join(', ')}\n`);
      return 1;
    }
    const secrets = renamed(revealed.secrets, transform);
    if (typeof secrets === 'string') {
      io.err.write(`coffer: ${secrets}; rename one of them.\n`);
      return 1;
    }
    // Which secrets may become which variables: src/cli/child-environment.ts, docs/cli.md.
    const { env, notVariableNames, withheld } = childEnvironment({
      inherited: io.env,
      secrets,
      allowed: values['allow-env'] ?? [],
    });
    if (notVariableNames.length > 0) {
      io.err.write(
        `coffer: skipped secrets whose names are not environment variable names: ${notVariableNames.join(', ')}${transform === null ? ` (pass --name-transformer upper-snake to get them as ${notVariableNames.map(NAME_TRANSFORMERS['upper-snake']).join(', ')})` : ''}\n`,
      );
    }
    if (withheld.length > 0) {
      io.err.write(
        `coffer: skipped secrets that would set variables controlling what the command runs or loads (allow one with --allow-env NAME): ${withheld.join(', ')}\n`,
      );
    }
    return { env };
  };

  if (!watching) {
    let prepared: Prepared | number;
    try {
      prepared = await prepare();
    } finally {
      await source.close();
    }
    if (typeof prepared === 'number') return prepared;
    return spawnForwarding(file, args, prepared.env, io);
  }
  try {
    // Watching starts before the first reveal: a change in between restarts once, none is missed.
    const watch = await source.watchChanges(only);
    try {
      const first = await prepare();
      if (typeof first === 'number') return first;
      return await superviseWatching(file, args, first.env, io, watch, prepare, restart);
    } finally {
      await watch.close();
    }
  } finally {
    await source.close();
  }
}

/** A running child: its exit code (as `run` reports it) once it has exited. */
interface Child {
  readonly exited: Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

function startChild(file: string, args: string[], env: Record<string, string>, io: CliIo): Child {
  const child = spawn(file, args, { stdio: 'inherit', env });
  const exited = new Promise<number>((resolve) => {
    let settled = false;
    const done = (code: number) => {
      if (settled) return;
      settled = true;
      resolve(code);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      io.err.write(`coffer: cannot run ${JSON.stringify(file)}: ${error.code ?? error.message}\n`);
      done(error.code === 'ENOENT' ? 127 : 126);
    });
    child.on('exit', (code, signal) => {
      done(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
  return {
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * `--watch`: runs the child, and on a change of one of its secrets (after `debounceMs` without a
 * further change) reveals again, stops the child (`signal`, then SIGKILL after `timeoutMs`) and starts
 * it with the new environment. A child that exits by itself ends `run` with its code, as without
 * `--watch`; so does one stopped by a signal sent to `run` (forwarded, no restart). A reveal that
 * fails keeps the running child and says why.
 */
async function superviseWatching(
  file: string,
  args: string[],
  firstEnv: Record<string, string>,
  io: CliIo,
  watch: ChangeWatch,
  prepare: () => Promise<Prepared | number>,
  restart: { signal: NodeJS.Signals; timeoutMs: number; debounceMs: number },
): Promise<number> {
  let child = startChild(file, args, firstEnv, io);
  let stopping = false;
  const forward = (signal: NodeJS.Signals) => {
    stopping = true;
    child.kill(signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  try {
    for (;;) {
      const stop = new AbortController();
      const changed = watch.next(stop.signal);
      const outcome = await Promise.race([
        child.exited.then((code) => ({ exit: code })),
        changed.then(
          (why) => ({ why }),
          (error: unknown) => ({ lost: error instanceof Error ? error.message : String(error) }),
        ),
      ]);
      if ('lost' in outcome) {
        // The watch ended (the token was revoked, the store deleted): the command is not orphaned.
        io.err.write(`coffer: no longer watching for changes, the command keeps running: ${outcome.lost}\n`);
        return await child.exited;
      }
      if ('exit' in outcome) {
        stop.abort();
        await changed.catch(() => null);
        return outcome.exit;
      }
      if (outcome.why === null || stopping) continue;
      // Debounce: more changes within the window are folded into this restart.
      const reasons = [outcome.why];
      for (;;) {
        const quiet = new AbortController();
        const more = watch.next(quiet.signal);
        const timer = sleep(restart.debounceMs).then(() => null);
        const next = await Promise.race([more, timer]);
        if (next === null) {
          quiet.abort();
          const late = await more.catch(() => null);
          if (late !== null) reasons.push(late);
          break;
        }
        reasons.push(next);
      }
      const prepared = await prepare().catch((error: unknown) => {
        io.err.write(
          `coffer: cannot read the secrets again, the command keeps running: ${(error as Error).message}\n`,
        );
        return null;
      });
      if (prepared === null || typeof prepared === 'number') continue;
      if (stopping) continue;
      io.err.write(`coffer: restarting the command (${[...new Set(reasons)].join('; ')})\n`);
      const old = child;
      old.kill(restart.signal);
      const killed = new AbortController();
      const exitedInTime = await Promise.race([
        old.exited.then(() => true),
        sleep(restart.timeoutMs, killed.signal).then(() => false),
      ]);
      killed.abort();
      if (!exitedInTime) {
        io.err.write(
          `coffer: the command did not stop within ${restart.timeoutMs / 1000} s of ${restart.signal}: killing it\n`,
        );
        old.kill('SIGKILL');
        await old.exited;
      }
      if (stopping) return old.exited;
      child = startChild(file, args, prepared.env, io);
    }
  } finally {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  }
}

function spawnForwarding(
  file: string,
  args: string[],
  env: Record<string, string>,
  io: CliIo,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    for (const s of FORWARDED_SIGNALS) process.on(s, forward);
    let settled = false;
    const done = (code: number) => {
      if (settled) return;
      settled = true;
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      resolve(code);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      io.err.write(`coffer: cannot run ${JSON.stringify(file)}: ${error.code ?? error.message}\n`);
      done(error.code === 'ENOENT' ? 127 : 126);
    });
    child.on('exit', (code, signal) => {
      done(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
