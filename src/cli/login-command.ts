import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CofferClient } from '../client/coffer-client.js';
import type { CliIo } from './cli.js';
import { loginFilePath, resolveAddress, writeBinding, writeLogin } from './cli-settings.js';
import { processInput, type SecretInput, withoutFinalNewline } from './secret-input.js';
import { SourceError } from './secret-source.js';
import { UsageError } from './usage-error.js';

/**
 * `coffer login --url URL [--tenant T]`: saves the server and a token for every later command, in
 * the user's config directory with mode 0600. The token is read from stdin, or asked for without
 * echo: never from argv, where `ps` and shell history would keep it.
 */
export async function loginCommand(
  argv: string[],
  io: CliIo,
  input: SecretInput = processInput,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: 'string' }, tenant: { type: 'string' }, 'token-stdin': { type: 'boolean' } },
    strict: true,
  });
  const url = values.url?.trim() || io.env.COFFER_URL?.trim();
  if (url === undefined || url === '')
    throw new UsageError('--url is required (the server, e.g. https://coffer.example.com).');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError('--url must be http:// or https://.');
  const token = (
    values['token-stdin'] === true || !input.isTty
      ? withoutFinalNewline(input.readAll())
      : await input.readHidden(`Token for ${url}: `)
  ).trim();
  if (token === '') throw new UsageError('no token given (pipe it on stdin, or type it when asked).');
  // The server must answer as a Coffer; the token's permissions are its own business (a key that may
  // only reveal one store's values is a fine login), so it is not tried here.
  await new CofferClient({ baseUrl: url, token, retries: 0 }).health();
  const file = writeLogin(io.env, {
    url,
    token,
    ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
  });
  io.err.write(`Logged in to ${url}; saved in ${file} (mode 0600).\n`);
  return 0;
}

/** `coffer logout`: forgets the saved server and token. */
export async function logoutCommand(argv: string[], io: CliIo): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true });
  const file = loginFilePath(io.env);
  rmSync(file, { force: true });
  io.err.write(`Logged out: ${file} removed.\n`);
  return 0;
}

/**
 * `coffer setup --tenant T --store S` (or `--env O/P/E`): binds the current directory, and every
 * directory below it, to that store (`.coffer.json`, no credentials in it), as `doppler setup` does.
 */
export async function setupCommand(argv: string[], io: CliIo, cwd: string = process.cwd()): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, store: { type: 'string' }, env: { type: 'string' } },
    strict: true,
  });
  if (values.env === undefined && (values.tenant === undefined || values.store === undefined))
    throw new UsageError('setup needs --tenant T --store S, or --env ORG/PROJECT/ENV.');
  const address = resolveAddress(values, {}, cwd);
  let file: string;
  try {
    file = writeBinding(cwd, address);
  } catch (error) {
    throw new SourceError(
      `cannot write .coffer.json in ${cwd}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
    );
  }
  io.err.write(`This directory now uses tenant '${address.tenant}', store '${address.store}' (${file}).\n`);
  return 0;
}
