import type { DestinationStream } from 'pino';

/**
 * A person's view of pino's JSON lines, for `coffer serve` on a terminal (COFFER_LOG_FORMAT=auto or
 * pretty): `12:04:05.123 INFO  Server listening at http://127.0.0.1:8080  key=value`. A few lines of
 * our own rather than pino-pretty (docs/decisions.md): the server writes a handful of lines at the
 * default level and needs no worker thread, no transport and no extra dependency for them. The
 * lines are formatted after pino has serialised and redacted them, so nothing more reaches the
 * terminal than would reach a JSON log.
 */
const LEVELS: Readonly<Record<number, { name: string; colour: string }>> = {
  10: { name: 'TRACE', colour: '\x1b[90m' },
  20: { name: 'DEBUG', colour: '\x1b[36m' },
  30: { name: 'INFO', colour: '\x1b[32m' },
  40: { name: 'WARN', colour: '\x1b[33m' },
  50: { name: 'ERROR', colour: '\x1b[31m' },
  60: { name: 'FATAL', colour: '\x1b[41m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** pino's own fields, shown in the line's head or not at all (pid and hostname say nothing on a terminal). */
const OWN_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string')
    return /^[^\s"=]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** One JSON log line as one readable line (without its newline); a line that is not JSON is kept as is. */
export function readableLine(json: string, colour: boolean): string {
  let entry: unknown;
  try {
    entry = JSON.parse(json);
  } catch {
    return json.replace(/\n$/, '');
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return json.replace(/\n$/, '');
  const record = entry as Record<string, unknown>;
  const level = LEVELS[typeof record.level === 'number' ? record.level : 30] ?? { name: 'LOG', colour: '' };
  const fields = Object.entries(record)
    .filter(([k]) => !OWN_FIELDS.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  const name = level.name.padEnd(5);
  const head = colour
    ? `${DIM}${clock(record.time)}${RESET} ${level.colour}${name}${RESET}`
    : `${clock(record.time)} ${name}`;
  const msg = typeof record.msg === 'string' ? record.msg : '';
  const tail = fields === '' ? '' : colour ? `  ${DIM}${fields}${RESET}` : `  ${fields}`;
  return `${head} ${msg}${tail}`;
}

/** A pino destination writing readable lines to `out`, synchronously (in order with the banner). */
export function readableLogStream(out: NodeJS.WritableStream, colour: boolean): DestinationStream {
  return {
    write(line: string) {
      for (const one of line.split('\n')) if (one !== '') out.write(`${readableLine(one, colour)}\n`);
    },
  };
}
