import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SECRET_NAME_PATTERN } from '../core/names.js';
import type { CliIo } from './cli.js';
import { formatDotenv, parseDotenv, parseJsonSecrets } from './dotenv-format.js';
import { processInput, type SecretInput, withoutFinalNewline } from './secret-input.js';
import { openSecretSource, type SecretSource, SourceError, type StoreAddress } from './secret-source.js';
import { ADDRESS_OPTIONS, targetOf, UsageError } from './store-address.js';

const FORMATS = ['dotenv', 'json'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(raw: string | undefined, fallback: Format): Format {
  if (raw === undefined) return fallback;
  if (!(FORMATS as readonly string[]).includes(raw)) throw new UsageError('--format must be dotenv or json.');
  return raw as Format;
}

const where = (a: StoreAddress) => `${a.tenant}/${a.store}`;

async function withSource<T>(
  source: Promise<SecretSource>,
  use: (source: SecretSource) => Promise<T>,
): Promise<T> {
  const opened = await source;
  try {
    return await use(opened);
  } finally {
    await opened.close();
  }
}

/** `coffer secrets get|set|list|delete …` (docs/cli.md): the single-secret commands. */
export async function secretsCommand(
  argv: string[],
  io: CliIo,
  input: SecretInput = processInput,
): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'get':
      return secretsGet(rest, io);
    case 'set':
      return secretsSet(rest, io, input);
    case 'list':
      return secretsList(rest, io);
    case 'delete':
      return secretsDelete(rest, io);
    default:
      throw new UsageError(
        sub === undefined
          ? 'secrets needs a subcommand: get, set, list or delete.'
          : `unknown secrets command ${JSON.stringify(sub)}.`,
      );
  }
}

/** `secrets get NAME [--reveal] [--json]`: metadata, the value only when asked. */
async function secretsGet(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, reveal: { type: 'boolean' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError('secrets get takes one NAME.');
  const { address, server } = targetOf(values, io.env);
  const secret = await withSource(openSecretSource(io.env, server, address, { writes: false }), (s) =>
    s.get(name, values.reveal === true),
  );
  if (values.json === true) io.out.write(`${JSON.stringify(secret, null, 2)}\n`);
  else if (values.reveal === true) io.out.write(`${secret.value ?? ''}\n`);
  else {
    const rows: [string, string][] = [
      ['name', secret.name],
      ['id', secret.id],
      ['store', secret.storeId],
      ['version', secret.version === null ? '(no value)' : String(secret.version)],
      ['description', secret.description ?? ''],
      ['scopes', secret.scopes.join(',')],
      ['notBefore', secret.notBefore ?? ''],
      ['expiresOn', secret.expiresOn ?? ''],
      ['createdAt', secret.createdAt],
      ['updatedAt', secret.updatedAt],
    ];
    for (const [k, v] of rows) io.out.write(`${k}\t${v}\n`);
  }
  return 0;
}

/**
 * `secrets set NAME (VALUE | --file PATH | -)`: a new version. The value comes from the argument, a
 * file (byte for byte), stdin (`-`, one final newline dropped), or a prompt without echo; it is never printed.
 */
async function secretsSet(argv: string[], io: CliIo, input: SecretInput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, file: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [name, given, ...extra] = positionals;
  if (name === undefined || extra.length > 0)
    throw new UsageError('secrets set takes NAME and one VALUE (or --file PATH, or - for stdin).');
  if (given !== undefined && values.file !== undefined)
    throw new UsageError('give the value once: as VALUE, --file PATH or - (stdin).');
  const { address, server } = targetOf(values, io.env);
  let value: string;
  if (values.file !== undefined) value = readFileSync(values.file, 'utf8');
  else if (given === '-' || (given === undefined && !input.isTty))
    value = withoutFinalNewline(input.readAll());
  else if (given === undefined) value = await input.readHidden(`Value for ${name}: `);
  else value = given;
  await withSource(openSecretSource(io.env, server, address, { writes: true }), (s) =>
    s.setValues([[name, value]]),
  );
  io.err.write(`Set secret '${name}' in ${where(address)}.\n`);
  return 0;
}

/** `secrets list [--json]`: names and metadata of every secret of the store, by name; never values. */
async function secretsList(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, json: { type: 'boolean' } },
    strict: true,
  });
  const { address, server } = targetOf(values, io.env);
  const secrets = await withSource(openSecretSource(io.env, server, address, { writes: false }), (s) =>
    s.list(),
  );
  if (values.json === true) {
    io.out.write(`${JSON.stringify(secrets, null, 2)}\n`);
    return 0;
  }
  for (const s of secrets) {
    io.out.write(`${s.name}\t${s.version === null ? '(no value)' : `v${s.version}`}\t${s.updatedAt}\n`);
  }
  if (secrets.length === 0) io.err.write(`No secrets in ${where(address)}.\n`);
  return 0;
}

/** `secrets delete NAME`: the secret and all its versions. */
async function secretsDelete(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS },
    allowPositionals: true,
    strict: true,
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError('secrets delete takes one NAME.');
  const { address, server } = targetOf(values, io.env);
  await withSource(openSecretSource(io.env, server, address, { writes: false }), (s) => s.delete(name));
  io.err.write(`Deleted secret '${name}' from ${where(address)}.\n`);
  return 0;
}

/** `coffer import --tenant T --store S [--format dotenv|json] FILE|-`: every value, or none if one is invalid. */
export async function importCommand(
  argv: string[],
  io: CliIo,
  input: SecretInput = processInput,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, format: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError('import takes one FILE (or - for stdin).');
  const { address, server } = targetOf(values, io.env);
  const text = file === '-' ? input.readAll() : readFileSync(file, 'utf8');
  const format = formatOf(values.format, file.toLowerCase().endsWith('.json') ? 'json' : 'dotenv');
  const entries = [...(format === 'json' ? parseJsonSecrets(text) : parseDotenv(text))];
  // All names are checked before anything is written, so a bad file changes nothing.
  const invalid = entries.map(([n]) => n).filter((n) => !SECRET_NAME_PATTERN.test(n));
  if (invalid.length > 0) {
    throw new SourceError(
      `not valid secret names (A-Z, a-z, 0-9, '-', '_', at most 127): ${invalid.map((n) => JSON.stringify(n.slice(0, 128))).join(', ')}`,
    );
  }
  const written = await withSource(openSecretSource(io.env, server, address, { writes: true }), (s) =>
    s.setValues(entries),
  );
  io.err.write(`Imported ${written} secret(s) into ${where(address)}.\n`);
  return 0;
}

/** `coffer export --tenant T --store S [--format dotenv|json]`: every value, to stdout only. */
export async function exportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, format: { type: 'string' } },
    strict: true,
  });
  const format = formatOf(values.format, 'dotenv');
  const { address, server } = targetOf(values, io.env);
  const entries: [string, string][] = await withSource(
    openSecretSource(io.env, server, address, { writes: false }),
    async (s) => (await s.reveal(null)).secrets.map((x): [string, string] => [x.name, x.value]),
  );
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  io.out.write(
    format === 'json' ? `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n` : formatDotenv(entries),
  );
  return 0;
}
