import { KNOWN_PERMISSION_NAMES } from '../core/permissions.js';

/**
 * Every command's usage, kept apart from the commands so that `coffer --help`, `coffer X --help` and a
 * usage error load nothing else (the CLI's start-up time is in BENCHMARKS.md).
 */

export { UsageError } from './usage-error.js';

interface UsageEntry {
  readonly command: string;
  /** The subcommand the lines describe (`create` of `keys create`); '' for the command itself. */
  readonly sub: string;
  readonly text: string;
}

const STORE = '(--tenant T --store S | --env ORG/PROJECT/ENV)';

const ENTRIES: readonly UsageEntry[] = [
  {
    command: 'serve',
    sub: '',
    text: '  serve                                  Start the HTTP server (what `npm start` runs)',
  },
  {
    command: 'keys',
    sub: 'create',
    text: `  keys create --tenant T --name N --permission P [--permission P ...] [--disabled]
                                         Create an API key (and the tenant if new); prints only the token
  keys create --service NAME             Create a platform service credential (Cloudflare system/ routes)
                                         Permissions: ${KNOWN_PERMISSION_NAMES.join(', ')}`,
  },
  {
    command: 'keys',
    sub: 'list',
    text: `  keys list --tenant T                   List a tenant's keys (never tokens)
  keys list --services                   List service credentials`,
  },
  {
    command: 'keys',
    sub: 'enable|disable|delete',
    text: `  keys enable|disable|delete --tenant T --name N
  keys enable|disable|delete --service NAME`,
  },
  {
    command: 'run',
    sub: '',
    text: `  run [${STORE}] [--only NAME ...] [--name-transformer upper-snake] [--allow-env NAME ...] [--url URL] -- COMMAND [ARGS ...]
                                         Run COMMAND with the store's secrets as environment variables`,
  },
  {
    command: 'secrets',
    sub: 'get',
    text: `  secrets get NAME [${STORE}] [--reveal] [--json]
                                         Print a secret's metadata; its value only with --reveal`,
  },
  {
    command: 'secrets',
    sub: 'set',
    text: `  secrets set NAME (VALUE | --file PATH | -) [${STORE}]
                                         Set a secret's value (a new version; creates the secret and
                                         the store if needed); the value is never printed`,
  },
  {
    command: 'secrets',
    sub: 'list',
    text: `  secrets list [${STORE}] [--json]
                                         List the store's secrets: names and metadata, never values`,
  },
  {
    command: 'secrets',
    sub: 'delete',
    text: `  secrets delete NAME [${STORE}]    Delete a secret with all its versions`,
  },
  {
    command: 'import',
    sub: '',
    text: `  import [${STORE}] [--format dotenv|json] FILE|-
                                         Set values from a .env or JSON file (creates the store if needed)`,
  },
  {
    command: 'export',
    sub: '',
    text: `  export [${STORE}] [--format dotenv|json]
                                         Print every value as .env (default) or JSON, to stdout`,
  },
  {
    command: 'login',
    sub: '',
    text: `  login --url URL [--tenant T] [--token-stdin]
                                         Save a server URL and API token (asked for, or read from stdin)
                                         in the user's config directory (mode 0600)`,
  },
  {
    command: 'logout',
    sub: '',
    text: '  logout                                 Forget the saved server URL and token',
  },
  {
    command: 'setup',
    sub: '',
    text: `  setup ${STORE}
                                         Bind this directory to a tenant and store (.coffer.json), so
                                         run, secrets, import and export need no flags below it`,
  },
  {
    command: 'master-key',
    sub: 'list',
    text: '  master-key list                        List the KEKs of the keyring file: id, active, in use',
  },
  {
    command: 'master-key',
    sub: 'add',
    text: '  master-key add                         Add a new KEK (not active); prints its id',
  },
  {
    command: 'master-key',
    sub: 'rotate',
    text: `  master-key rotate [--key-id ID] [--batch-size N]
                                         Activate a new KEK (or ID, added before) and re-wrap every
                                         data key under it while servers keep serving; prints its id`,
  },
  {
    command: 'master-key',
    sub: 'rewrap',
    text: '  master-key rewrap [--batch-size N]     Re-wrap data keys still under older KEKs (resume, catch up)',
  },
  {
    command: 'master-key',
    sub: 'retire',
    text: '  master-key retire KEY_ID               Remove a KEK from the keyring file; refused while in use',
  },
  {
    command: 'master-key',
    sub: 'init',
    text: '  master-key init                        Write COFFER_MASTER_KEY into a new keyring file (before rotating)',
  },
  {
    command: 'audit',
    sub: 'verify',
    text: `  audit verify [--tenant T]              Check the audit hash chains (every tenant's, and the platform's);
                                         exits 1 naming the first event that does not verify
  audit verify --anchors FILE [--anchor-public-key PUB]
                                         Also check them against signed checkpoints (repeatable):
                                         truncation, deleted chains, rewrites, a forged anchors file`,
  },
  {
    command: 'audit',
    sub: 'checkpoint',
    text: `  audit checkpoint                       Sign every chain's head now (COFFER_AUDIT_ANCHOR_KEY) and append
                                         it to COFFER_AUDIT_ANCHOR_FILE; prints the checkpoint line`,
  },
  {
    command: 'audit',
    sub: 'prune',
    text: `  audit prune                            A checkpoint, then delete events older than COFFER_AUDIT_RETENTION
                                         that it covers (never past it)`,
  },
  {
    command: 'audit',
    sub: 'anchor-key',
    text: `  audit anchor-key --out FILE            Make the Ed25519 key that signs checkpoints (FILE, mode 0600)
                                         and its public key (FILE.pub), outside the data directory`,
  },
  {
    command: 'audit',
    sub: 'export',
    text: '  audit export --since ISO [--tenant T]  Print audit events since an instant as JSON lines (for a SIEM)',
  },
  { command: 'version', sub: '', text: '  version                                Print the version' },
];

/** The commands `coffer` knows. */
export const COMMAND_NAMES: readonly string[] = [...new Set(ENTRIES.map((e) => e.command))];

const FOOTER = `Where the secrets commands (run, secrets, import, export) work, first match wins:
  flags (--url, --tenant/--store/--env), then the environment (COFFER_URL, COFFER_TOKEN,
  COFFER_TENANT, COFFER_STORE, COFFER_DATA_DIR), then the directory binding (.coffer.json, written by
  \`coffer setup\`), then the login file (\`coffer login\`); without a server URL they work on the
  local data directory. Server configuration (HOST, PORT, COFFER_DATA_DIR, COFFER_DATABASE_URL,
  COFFER_MASTER_KEY, …) comes from the environment, the same for the server and the CLI: see README.
Run \`coffer COMMAND --help\` for one command's usage. Details: docs/cli.md.
`;

/** The whole manual: `coffer --help`. */
export function fullUsage(): string {
  return `Usage: coffer <command> [options]\n\nCommands:\n${ENTRIES.map((e) => e.text).join('\n')}\n\n${FOOTER}`;
}

function matchesSub(entry: UsageEntry, sub: string | undefined): boolean {
  return sub !== undefined && entry.sub.split('|').includes(sub);
}

/**
 * One command's usage: `keys create` gives the lines of `keys create`, `keys` (or an unknown
 * subcommand) every `keys` line. Null for an unknown command.
 */
export function commandUsage(command: string, sub?: string): string | null {
  const all = ENTRIES.filter((e) => e.command === command);
  if (all.length === 0) return null;
  const exact = all.filter((e) => matchesSub(e, sub));
  const lines = (exact.length > 0 ? exact : all).map((e) => e.text).join('\n');
  return `Usage:\n${lines}\n`;
}
