import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import type { CliIo } from './cli.js';
import { openSecretSource } from './secret-source.js';
import { ADDRESS_OPTIONS, targetOf, UsageError } from './store-address.js';

/** What a POSIX shell accepts as a variable name; other secret names are skipped, with a warning. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Credentials of Coffer itself never reach the child: it gets its secrets, not the keys to all of them. */
const WITHHELD_VARIABLES = ['COFFER_TOKEN', 'COFFER_MASTER_KEY'];

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

/**
 * `coffer run [--tenant T --store S | --env O/P/E] [--only NAME…] -- COMMAND…`: reveals the secrets in
 * one batch, then runs COMMAND with them in its environment, forwarding signals; exits as it does.
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
      'name-transformer': { type: 'string' },
    },
    strict: true,
  });
  const { address, server } = targetOf(values, io.env);
  const only = values.only === undefined ? null : [...new Set(values.only)];
  const transform = transformerOf(values['name-transformer']);

  const source = await openSecretSource(io.env, server, address, { writes: false });
  let revealed;
  try {
    revealed = await source.reveal(only);
  } finally {
    await source.close();
  }
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
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(io.env))
    if (v !== undefined && !WITHHELD_VARIABLES.includes(k)) env[k] = v;
  const skipped: string[] = [];
  for (const s of secrets) {
    if (ENV_NAME.test(s.name)) env[s.name] = s.value;
    else skipped.push(s.name);
  }
  if (skipped.length > 0) {
    io.err.write(
      `coffer: skipped secrets whose names are not environment variable names: ${skipped.join(', ')}${transform === null ? ` (pass --name-transformer upper-snake to get them as ${skipped.map(NAME_TRANSFORMERS['upper-snake']).join(', ')})` : ''}\n`,
    );
  }
  return spawnForwarding(file, args, env, io);
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
