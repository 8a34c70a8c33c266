import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SECRET_NAME_PATTERN } from '../core/names.js';
import type { CliIo } from './cli.js';
import { formatDotenv, parseDotenv, parseJsonSecrets } from './dotenv-format.js';
import { openSecretSource } from './secret-source.js';
import { ADDRESS_OPTIONS, storeAddressOf, UsageError } from './store-address.js';

const FORMATS = ['dotenv', 'json'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(raw: string | undefined, fallback: Format): Format {
  if (raw === undefined) return fallback;
  if (!(FORMATS as readonly string[]).includes(raw)) throw new UsageError('--format must be dotenv or json.');
  return raw as Format;
}

/** `coffer secrets get NAME --tenant T --store S [--reveal] [--json]`: metadata, the value only when asked. */
export async function secretsCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'get') throw new UsageError(`unknown secrets command ${JSON.stringify(sub ?? '')}.`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ...ADDRESS_OPTIONS, reveal: { type: 'boolean' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError('secrets get takes one NAME.');
  const source = await openSecretSource(io.env, storeAddressOf(values), { writes: false });
  try {
    const secret = await source.get(name, values.reveal === true);
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
  } finally {
    await source.close();
  }
}

/** `coffer import --tenant T --store S [--format dotenv|json] FILE|-`: every value, or none if one is invalid. */
export async function importCommand(argv: string[], io: CliIo, stdin: () => string): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, format: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError('import takes one FILE (or - for stdin).');
  const address = storeAddressOf(values);
  const text = file === '-' ? stdin() : readFileSync(file, 'utf8');
  const format = formatOf(values.format, file.toLowerCase().endsWith('.json') ? 'json' : 'dotenv');
  const entries = [...(format === 'json' ? parseJsonSecrets(text) : parseDotenv(text))];
  // All names are checked before anything is written, so a bad file changes nothing.
  const invalid = entries.map(([n]) => n).filter((n) => !SECRET_NAME_PATTERN.test(n));
  if (invalid.length > 0) {
    io.err.write(
      `coffer: not valid secret names (A-Z, a-z, 0-9, '-', '_', at most 127): ${invalid.map((n) => JSON.stringify(n.slice(0, 128))).join(', ')}\n`,
    );
    return 1;
  }
  const source = await openSecretSource(io.env, address, { writes: true });
  try {
    const written = await source.setValues(entries);
    io.err.write(`Imported ${written} secret(s) into ${address.tenant}/${address.store}.\n`);
    return 0;
  } finally {
    await source.close();
  }
}

/** `coffer export --tenant T --store S [--format dotenv|json]`: every value, to stdout only. */
export async function exportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ADDRESS_OPTIONS, format: { type: 'string' } },
    strict: true,
  });
  const format = formatOf(values.format, 'dotenv');
  const source = await openSecretSource(io.env, storeAddressOf(values), { writes: false });
  let entries: [string, string][];
  try {
    entries = (await source.reveal(null)).secrets.map((s) => [s.name, s.value]);
  } finally {
    await source.close();
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  io.out.write(
    format === 'json' ? `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n` : formatDotenv(entries),
  );
  return 0;
}
