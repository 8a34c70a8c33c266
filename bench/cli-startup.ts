import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/**
 * How long a `coffer` command takes from exec to exit, as a ratio to Node's own start (`node -e 0`)
 * measured in the same rounds (issue 18: within 2× for `version`, `--help` and a local `run`).
 * Rounds interleave the scenarios, so a busy machine slows them alike; the median is reported.
 */
const ROUNDS = Number(process.env.BENCH_CLI_ROUNDS ?? 25);

interface Scenario {
  readonly name: string;
  readonly args: readonly string[];
}

function timeMs(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const started = process.hrtime.bigint();
  const res = spawnSync(process.execPath, args, { env, cwd, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 0) throw new Error(`${args.join(' ')} exited with ${res.status}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

/** Runs the scenarios and returns the Markdown block for BENCHMARKS.md. */
export function measureCliStartup(bin: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'coffer-bench-cli-'));
  const env = { PATH: process.env.PATH ?? '', HOME: dir, COFFER_DATA_DIR: join(dir, 'data') };
  try {
    // A store with two secrets, for the local `run`.
    for (const [name, value] of [
      ['DATABASE_URL', 'postgres://bench@db/app'],
      ['API_KEY', 'bench-api-key'],
    ] as const) {
      timeMs([bin, 'secrets', 'set', name, value, '--tenant', 'bench', '--store', 'app'], env, dir);
    }
    const scenarios: Scenario[] = [
      { name: '`node -e 0` (floor)', args: ['-e', '0'] },
      { name: '`coffer version`', args: [bin, 'version'] },
      { name: '`coffer --help`', args: [bin, '--help'] },
      { name: '`coffer keys create --help`', args: [bin, 'keys', 'create', '--help'] },
      {
        name: '`coffer run` (local, 2 secrets) `-- true`',
        args: [bin, 'run', '--tenant', 'bench', '--store', 'app', '--', 'true'],
      },
    ];
    const samples = scenarios.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) {
      scenarios.forEach((s, i) => samples[i]?.push(timeMs(s.args, env, dir)));
    }
    const floor = median(samples[0] ?? []);
    const rows = scenarios.map((s, i) => {
      const m = median(samples[i] ?? []);
      return `| ${s.name} | ${m.toFixed(0)} | ${Math.min(...(samples[i] ?? [])).toFixed(0)} | ${(m / floor).toFixed(2)} |`;
    });
    return [
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)} at the end; ${ROUNDS} interleaved rounds, exec to exit.`,
      '',
      '| command | median ms | best ms | × `node -e 0` |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
