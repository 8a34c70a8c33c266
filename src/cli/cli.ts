import { parseArgs } from 'node:util';
import { CofferApiError } from '../client/coffer-api-error.js';
import { packageVersion } from './package-version.js';
import { UsageError } from './usage-error.js';

/** The usage texts, loaded only to print them: `coffer version` and `coffer run` never need them. */
const usageTexts = () => import('./usage.js');

export interface CliIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

type Handler = (argv: string[], io: CliIo) => Promise<number>;

/**
 * Each command's module, imported only when that command runs: `coffer version` loads neither the
 * server nor a database driver, and `coffer run` against a server loads no SQLite (BENCHMARKS.md).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Handler>>> = {
  serve: async () => {
    const [{ serve }, { parseConfig }] = await Promise.all([
      import('./serve-command.js'),
      import('../config.js'),
    ]);
    return async (argv, io) => {
      parseArgs({ args: argv, options: {}, strict: true });
      await serve(parseConfig(io.env), io.out);
      return -1; // keeps running until a signal
    };
  },
  keys: async () => (await import('./keys-command.js')).keysCommand,
  run: async () => (await import('./run-command.js')).runCommand,
  secrets: async () => {
    const { secretsCommand } = await import('./secrets-commands.js');
    return (argv, io) => secretsCommand(argv, io);
  },
  import: async () => {
    const { importCommand } = await import('./secrets-commands.js');
    return (argv, io) => importCommand(argv, io);
  },
  export: async () => (await import('./secrets-commands.js')).exportCommand,
  login: async () => {
    const { loginCommand } = await import('./login-command.js');
    return (argv, io) => loginCommand(argv, io);
  },
  logout: async () => (await import('./login-command.js')).logoutCommand,
  setup: async () => {
    const { setupCommand } = await import('./login-command.js');
    return (argv, io) => setupCommand(argv, io);
  },
  'master-key': async () => {
    const [{ masterKeyCommand }, { parseConfig }] = await Promise.all([
      import('./master-key-command.js'),
      import('../config.js'),
    ]);
    return (argv, io) => masterKeyCommand(argv, parseConfig(io.env), io);
  },
  audit: async () => (await import('./audit-command.js')).auditCommand,
  version: async () => async (argv, io) => {
    parseArgs({ args: argv, options: {}, strict: true });
    io.out.write(`${packageVersion()}\n`);
    return 0;
  },
};

const isHelpFlag = (arg: string) => arg === '--help' || arg === '-h';

/** `--help` anywhere among a command's own options (for `run`, before the `--` that starts the program). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some(isHelpFlag);
}

function subcommandOf(args: readonly string[]): string | undefined {
  const [first] = args;
  return first !== undefined && !first.startsWith('-') ? first : undefined;
}

/** node:util parseArgs' own usage errors (unknown option, missing value, stray positional). */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** Runs one command; returns the exit code (-1: still running). Errors become one readable line on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [given, ...rest] = argv;
  const command = given === '--version' ? 'version' : given;
  if (command === undefined) {
    io.err.write((await usageTexts()).fullUsage());
    return 2;
  }
  if (command === 'help' || isHelpFlag(command)) {
    const { commandUsage, fullUsage } = await usageTexts();
    const topic = rest[0] === undefined ? null : commandUsage(rest[0], rest[1]);
    io.out.write(topic ?? fullUsage());
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) {
    const { COMMAND_NAMES } = await usageTexts();
    io.err.write(
      `coffer: unknown command ${JSON.stringify(command)}.\nCommands: ${COMMAND_NAMES.join(', ')}. Run \`coffer --help\` for their usage.\n`,
    );
    return 2;
  }
  const usage = async () => {
    const { commandUsage, fullUsage } = await usageTexts();
    return commandUsage(command, subcommandOf(rest)) ?? fullUsage();
  };
  if (asksForHelp(rest)) {
    io.out.write(await usage());
    return 0;
  }
  try {
    return await (
      await load()
    )(rest, io);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      io.err.write(`coffer: ${(error as Error).message}\n${await usage()}`);
      return 2;
    }
    if (error instanceof CofferApiError) {
      io.err.write(`coffer: ${error.message} (HTTP ${error.status}${error.code ? `, ${error.code}` : ''})\n`);
      return 1;
    }
    // Domain, configuration, keyring and connection errors all carry a message meant for a person.
    const message = error instanceof Error ? error.message : String(error);
    io.err.write(`coffer: ${message}\n`);
    return 1;
  }
}
