import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const COFFER_BIN = fileURLToPath(new URL('../../../bin/coffer.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** The working directory (default: the test's). */
  readonly cwd?: string;
  /** Written to the command's stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string;
}

/** Runs `coffer ARGS…` as a separate process with `env` added to a minimal environment. */
export function runCoffer(
  args: string[],
  env: Record<string, string>,
  options: RunOptions = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A Coffer token wherever it appears in output (the first-start banner prints the bootstrap one). */
export const TOKEN_PATTERN = /coffer_[0-9A-Za-z]{49}/g;
/** The framed first-start banner of `coffer serve`. */
export const BANNER_PATTERN = /={78}\n[\s\S]*?\n={78}\n/;

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything printed so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts `coffer serve` on a random port and resolves once it listens (reads the port from its log). */
export function spawnServer(env: Record<string, string>, timeoutMs = 15_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [COFFER_BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coffer serve did not start in time:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const m = /Server listening at (https?:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out, exited });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`coffer serve exited with ${code}:\n${out}`));
    });
  });
}

/** Stops a spawned server as an operator would (SIGTERM) and resolves with its exit code. */
export function stopServer(server: ServerProcess): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}
