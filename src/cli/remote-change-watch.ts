import { CofferApiError } from '../client/coffer-api-error.js';
import { CofferClient } from '../client/coffer-client.js';
import type { StreamFrame } from '../client/event-stream.js';
import type { ServerTarget } from './cli-settings.js';
import { type ChangeWatch, concerns } from './change-watch.js';
import { SourceError, type StoreAddress } from './secret-source.js';

/** Wait before reconnecting a dropped stream (it resumes from the last event id). */
const RECONNECT_MS = 1_000;

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

  const onFrame = (frame: StreamFrame) => {
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

  const client = new CofferClient({ baseUrl: server.url, token: server.token });
  const loop = async () => {
    while (!stop.signal.aborted) {
      try {
        for await (const frame of client.changes(address.tenant, {
          store: address.store,
          signal: stop.signal,
          ...(lastEventId === null ? {} : { lastEventId }),
        })) {
          onFrame(frame);
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        // Refused (the token or the store is no longer good): the watch ends; anything else
        // (a 429, a 5xx, no answer) is retried from the last event id.
        if (error instanceof CofferApiError && error.status < 500 && error.status !== 429) {
          failure = new SourceError(`the server refused the change stream: ${error.message}`);
          connected?.();
          notify();
          return;
        }
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
