/** A thin fetch wrapper for tests: real HTTP, raw status, headers and body. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface RequestOptions {
  readonly token?: string;
  /** How to send the token: `x-api-key` (default) or `bearer`. */
  readonly auth?: 'x-api-key' | 'bearer';
  /** An object is sent as JSON; a string is sent as is (set content-type yourself). */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) {
    if (options.auth === 'bearer') headers.authorization = `Bearer ${options.token}`;
    else headers['x-api-key'] = options.token;
  }
  let body: string | undefined;
  if (typeof options.body === 'string') body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  // An event stream (the /v1 change streams) never ends by itself: its first event is the answer.
  const text = res.headers.get('content-type')?.startsWith('text/event-stream')
    ? await firstEvent(res)
    : await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The text of a stream up to its first blank line (one SSE event), then the connection is dropped. */
async function firstEvent(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (reader === undefined) return '';
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}
