import type { ServerTarget } from './cli-settings.js';
import { type ChangeWatch, concerns } from './change-watch.js';
import { SourceError, type StoreAddress } from './secret-source.js';

/** Wait before reconnecting a dropped stream (it resumes from the last event id). */
const RECONNECT_MS = 1_000;

interface Frame {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

/**
 * The store's change stream on a server (`GET /v1/tenants/{t}/stores/{s}/events`), reconnected with
 * `Last-Event-ID` whenever it drops, so no change is missed while reconnecting. A refusal (401, 403,
 * 404) ends the watch with an error: the token or store is no longer good.
 */
export async function openRemoteChangeWatch(
  server: ServerTarget,
  address: StoreAddress,
  names: readonly string[] | null,
): Promise<ChangeWatch> {
  const watched = names === null ? null : new Set(names);
  const url = `${server.url.replace(/\/$/, '')}/v1/tenants/${encodeURIComponent(address.tenant)}/stores/${encodeURIComponent(address.store)}/events`;
  const stop = new AbortController();
  const pending: string[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  let lastEventId: string | null = null;
  let connected: (() => void) | null = null;
  const ready = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const onFrame = (frame: Frame) => {
    if (frame.id !== null) lastEventId = frame.id;
    if (frame.event === 'ready') connected?.();
    else if (frame.event === 'resync') pending.push('changes were missed (resync)');
    else if (frame.event === 'change') {
      const change = JSON.parse(frame.data) as { kind: string; secret: { name: string | null } | null };
      const why = concerns(change, watched);
      if (why !== null) pending.push(why);
    }
    if (pending.length > 0) notify();
  };

  const loop = async () => {
    while (!stop.signal.aborted) {
      try {
        const headers: Record<string, string> = {
          accept: 'text/event-stream',
          authorization: `Bearer ${server.token}`,
        };
        if (lastEventId !== null) headers['last-event-id'] = lastEventId;
        const res = await fetch(url, { headers, signal: stop.signal });
        if (!res.ok) {
          const text = await res.text();
          let code = 'error';
          let detail = text;
          try {
            const problem = JSON.parse(text) as { code?: string; detail?: string };
            code = problem.code ?? code;
            detail = problem.detail ?? detail;
          } catch {
            // Not a problem document: keep the text.
          }
          if (res.status === 429 || res.status >= 500) throw new Error(`${res.status} ${code}`);
          failure = new SourceError(
            `the server refused the change stream (${res.status} ${code}): ${detail}`,
          );
          connected?.();
          notify();
          return;
        }
        await readFrames(res, onFrame);
      } catch (error) {
        if (stop.signal.aborted) return;
        void error;
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  };
  void loop();
  await ready;
  if (failure !== null) {
    stop.abort();
    throw failure;
  }

  return {
    async next(signal) {
      for (;;) {
        if (failure !== null) throw failure;
        const why = pending.shift();
        if (why !== undefined) return why;
        if (signal.aborted) return null;
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    },
    async close() {
      stop.abort();
      notify();
    },
  };
}

/** Reads SSE frames until the stream ends. */
async function readFrames(res: Response, onFrame: (frame: Frame) => void): Promise<void> {
  const reader = res.body?.getReader();
  if (reader === undefined) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let id: string | null = null;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'id') id = text;
        else if (field === 'data') data.push(text);
      }
      onFrame({ event, id, data: data.join('\n') });
    }
  }
}
