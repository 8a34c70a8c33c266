/**
 * `.env` files as the `dotenv` package (v16) reads them, so that a file behaves the same under Coffer
 * as under the tools it comes from: `KEY=value` or `KEY: value`, an optional `export `, `#` comments
 * (inside quotes they are text), values in single quotes, double quotes or backticks that may span
 * lines, `\n` and `\r` escapes in double quotes only, CRLF line endings. Other lines are ignored and
 * a later key wins, as dotenv does.
 */
// The line grammar of dotenv's `parse` (lib/main.js, BSD-2-Clause), kept verbatim for fidelity.
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/** Name → value, in the order first seen. */
export function parseDotenv(source: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = source.replace(/\r\n?/g, '\n');
  for (const match of text.matchAll(LINE)) {
    const key = match[1];
    if (key === undefined) continue;
    let value = (match[2] ?? '').trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    out.set(key, value);
  }
  return out;
}

export class DotenvFormatError extends Error {}

function quoted(value: string): string[] {
  const candidates: string[] = [];
  if (value === '') candidates.push('');
  // Single quotes and backticks are literal and may span lines; CR cannot survive (CRLF is normalised).
  if (!value.includes("'") && !value.includes('\r')) candidates.push(`'${value}'`);
  if (!value.includes('`') && !value.includes('\r')) candidates.push(`\`${value}\``);
  // Double quotes turn \n and \r into newlines; a literal backslash-n or a quote could not come back.
  if (!value.includes('"') && !/\\[nr]/.test(value)) {
    candidates.push(`"${value.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`);
  }
  return candidates;
}

/**
 * `NAME='value'` lines that `parseDotenv` (and dotenv) read back to exactly these values, or a
 * DotenvFormatError naming the secrets no dotenv quoting can carry (use JSON for those).
 */
export function formatDotenv(entries: ReadonlyArray<readonly [string, string]>): string {
  const lines: string[] = [];
  const impossible: string[] = [];
  for (const [name, value] of entries) {
    const line = quoted(value)
      .map((q) => `${name}=${q}`)
      .find((candidate) => parseDotenv(candidate).get(name) === value);
    if (line === undefined) impossible.push(name);
    else lines.push(line);
  }
  const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  const back = parseDotenv(text);
  for (const [name, value] of entries) {
    if (!impossible.includes(name) && back.get(name) !== value) impossible.push(name);
  }
  if (impossible.length > 0) {
    throw new DotenvFormatError(
      `cannot write ${impossible.join(', ')} as dotenv without changing the value; use --format json.`,
    );
  }
  return text;
}

/** `{"NAME": "value", …}`: every value must be a string. */
export function parseJsonSecrets(source: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    throw new DotenvFormatError('the file is not valid JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DotenvFormatError('the JSON file must hold one object of "NAME": "value" pairs.');
  }
  const out = new Map<string, string>();
  const notStrings: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') out.set(name, value);
    else notStrings.push(name);
  }
  if (notStrings.length > 0) {
    throw new DotenvFormatError(`these values are not strings: ${notStrings.join(', ')}.`);
  }
  return out;
}
