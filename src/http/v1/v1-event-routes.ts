import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { ChangeEvent } from '../../core/change-events.js';
import type { Watch } from '../../core/change-watch-service.js';
import type { CofferCore } from '../../core/coffer-core.js';
import { callerOf, singleHeader } from '../auth.js';
import { acceptsGzip, GzipStream, gzipSegment, type GzipSegment } from './sse-gzip.js';
import { problems, StoreParams, TenantParams } from './v1-schemas.js';
import { v1Token } from './v1-token.js';

/** How often an open stream re-checks its credential (disabled, deleted, re-permissioned, expired). */
const CREDENTIAL_CHECK_MS = 1_000;
/** Bytes a subscriber may leave unread before it is dropped (it reconnects with Last-Event-ID). */
const MAX_UNREAD_BYTES = 1 << 20;

const EventsQuery = Type.Object(
  {
    lastEventId: Type.Optional(
      Type.String({
        maxLength: 12_288,
        description:
          'For clients that cannot send the `Last-Event-ID` header: the id of the last event received (the header wins).',
      }),
    ),
  },
  { additionalProperties: false },
);

const STREAM_DESCRIPTION =
  'Server-Sent Events (`text/event-stream`): one `change` event per committed change (names, ids, versions and times; never a value), ' +
  'its `id` the position to resume from with `Last-Event-ID` (header) or `lastEventId` (query); `resync` when events after that position ' +
  'were pruned; heartbeat comments while idle. gzip (`Content-Encoding: gzip`) when the client sends `Accept-Encoding: gzip`. ' +
  'Closed when the credential is disabled, deleted, changed or expires. docs/notifications.md.';

/** The wire form of a change (docs/notifications.md). */
function changeView(event: ChangeEvent) {
  return {
    kind: event.kind,
    tenant: event.tenantId,
    store: event.store,
    secret: event.secret,
    version: event.version,
    apiKey: event.apiKey,
    actor: event.actor,
    time: new Date(event.time).toISOString(),
  };
}

function frame(fields: { id?: string; event?: string; data?: string; comment?: string }): string {
  let out = '';
  if (fields.comment !== undefined) out += `: ${fields.comment}\n`;
  if (fields.event !== undefined) out += `event: ${fields.event}\n`;
  if (fields.id !== undefined) out += `id: ${fields.id}\n`;
  if (fields.data !== undefined) out += `data: ${fields.data}\n`;
  return `${out}\n`;
}

/**
 * Streams a watch on the hijacked response until the client goes, the server closes, the stream falls
 * too far behind, or its credential stops being valid. Nothing here runs inside a write: events are
 * read from the chains after each wake-up (the writer only wakes the reader).
 */
async function stream(
  open: Set<() => void>,
  core: CofferCore,
  request: FastifyRequest,
  reply: FastifyReply,
  watch: Watch,
): Promise<void> {
  // Before the response starts: a failure here is answered as an error, the watch released.
  let check: (() => Promise<boolean>) | null;
  try {
    const token = v1Token(request);
    check = token === undefined ? null : core.auth.credentialCheck(token, watch.actor);
  } catch (error) {
    watch.close();
    throw error;
  }
  const raw = reply.raw;
  const stop = new AbortController();
  let reason: string | null = null;
  const end = (why: string) => {
    reason ??= why;
    stop.abort();
    watch.reader.poke();
  };
  reply.hijack();
  raw.on('close', () => end('client'));
  // Compressed when the client takes gzip (sse-gzip.ts): a batch is deflated once for all subscribers.
  const gzip = acceptsGzip(request.headers['accept-encoding']) ? new GzipStream() : null;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    vary: 'accept-encoding',
    ...(gzip === null ? {} : { 'content-encoding': 'gzip' }),
  });
  if (gzip !== null) raw.write(gzip.start());
  /** A frame of this stream alone, as the stream carries it. */
  const own = (text: string): string | Buffer =>
    gzip === null ? text : gzip.add(gzipSegment(Buffer.from(text, 'utf8')));
  /** A frame of this stream alone (`text`) or a batch shared with other subscribers. */
  const write = (text: string | readonly ChangeEvent[]) => {
    if (stop.signal.aborted) return;
    if (typeof text === 'string') raw.write(own(text));
    else raw.write(gzip === null ? batchFrames(text) : gzip.add(batchSegment(text)));
    if (raw.writableLength > MAX_UNREAD_BYTES) end('slow');
  };
  let lastId = watch.position();
  write(frame({ event: 'ready', id: lastId, data: JSON.stringify({ position: lastId }) }));

  let checking = false;
  const credentials = setInterval(() => {
    if (checking || check === null) return;
    checking = true;
    void check()
      .then((ok) => {
        if (!ok) end('credentials');
      })
      .finally(() => {
        checking = false;
      });
  }, CREDENTIAL_CHECK_MS);
  const heartbeat = setInterval(() => {
    // A heartbeat also moves the client's last event id past changes it was not sent (another
    // store's, a read's), so that a reconnection does not rescan them.
    const now = watch.position();
    write(now === lastId ? frame({ comment: 'heartbeat' }) : frame({ comment: 'heartbeat', id: now }));
    lastId = now;
  }, core.watch.heartbeatMs);
  const closing = () => end('shutdown');
  open.add(closing);
  try {
    for (;;) {
      const next = await watch.reader.next(stop.signal);
      if (next === null) break;
      if (next.resync) {
        lastId = watch.position();
        write(
          frame({
            event: 'resync',
            id: lastId,
            data: JSON.stringify({
              reason: 'pruned',
              message:
                'Events after the last event id are no longer kept: read the current state again, then keep listening.',
            }),
          }),
        );
        continue;
      }
      // One socket write per batch, not per event: a burst of changes costs each subscriber one write.
      const last = next.events.at(-1);
      if (last !== undefined) lastId = last.id;
      write(next.events);
      watch.sent(next.events);
    }
  } catch {
    reason ??= 'error';
  } finally {
    clearInterval(credentials);
    clearInterval(heartbeat);
    open.delete(closing);
    watch.close();
    if (!raw.destroyed) {
      if (reason === 'credentials' || reason === 'shutdown' || reason === 'error' || reason === 'slow') {
        raw.write(own(frame({ event: 'closed', data: JSON.stringify({ reason }) })));
      }
      raw.end(gzip?.finish());
    }
  }
}

/** `GET /v1/tenants/{tenant}/events` and `…/stores/{store}/events`: change streams (SSE). */
export function v1EventRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Open streams end when the server closes (before it waits for in-flight requests to finish).
    const open = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const close of [...open]) close();
    });
    const lastEventIdOf = (request: FastifyRequest, query: string | undefined): string | null =>
      singleHeader(request.headers['last-event-id']) ?? query ?? null;

    app.get(
      '/tenants/:tenant/events',
      {
        schema: {
          operationId: 'v1WatchTenant',
          tags: ['Native'],
          summary: "Watch the tenant's changes (SSE)",
          description: `${STREAM_DESCRIPTION} Every store's changes; key changes for admin keys (\`*\`) only. Requires \`secrets:read\`.`,
          params: TenantParams,
          querystring: EventsQuery,
          response: {
            200: { description: 'The event stream', content: { 'text/event-stream': { schema: {} } } },
            ...problems(400, 401, 403, 404, 429),
          },
        },
      },
      async (request, reply) => {
        const watch = await core.watch.open(callerOf(request), request.params.tenant, {
          after: lastEventIdOf(request, request.query.lastEventId),
        });
        await stream(open, core, request, reply, watch);
      },
    );

    app.get(
      '/tenants/:tenant/stores/:store/events',
      {
        schema: {
          operationId: 'v1WatchStore',
          tags: ['Native'],
          summary: "Watch a store's changes (SSE)",
          description: `${STREAM_DESCRIPTION} One store's secrets (and its deletion). Requires \`secrets:read\`.`,
          params: StoreParams,
          querystring: EventsQuery,
          response: {
            200: { description: 'The event stream', content: { 'text/event-stream': { schema: {} } } },
            ...problems(400, 401, 403, 404, 429),
          },
        },
      },
      async (request, reply) => {
        const watch = await core.watch.open(callerOf(request), request.params.tenant, {
          store: { ref: request.params.store },
          after: lastEventIdOf(request, request.query.lastEventId),
        });
        await stream(open, core, request, reply, watch);
      },
    );
  };
}

/**
 * A batch's SSE frames, encoded once: readers woken together share one read (ChangeFeed.read), and a
 * reader that filtered nothing out gets the read's own array (FeedReader.next), so a batch sent to 100
 * subscribers of a tenant is one Buffer written to 100 sockets, not 100 strings built and encoded.
 * Cached per batch only, not per event: an event's frame string then dies young with the batch's
 * build instead of living (and being copied by every scavenge) as long as the feed's tail keeps
 * the event.
 */
const batchBuffers = new WeakMap<readonly ChangeEvent[], Buffer>();
function batchFrames(events: readonly ChangeEvent[]): Buffer {
  let buffer = batchBuffers.get(events);
  if (buffer === undefined) {
    let text = '';
    for (const event of events) {
      text += frame({ event: 'change', id: event.id, data: JSON.stringify(changeView(event)) });
    }
    buffer = Buffer.from(text, 'utf8');
    batchBuffers.set(events, buffer);
  }
  return buffer;
}

/** A batch's frames deflated once (sse-gzip.ts), for every subscriber that takes gzip. */
const batchSegments = new WeakMap<readonly ChangeEvent[], GzipSegment>();
function batchSegment(events: readonly ChangeEvent[]): GzipSegment {
  let segment = batchSegments.get(events);
  if (segment === undefined) {
    segment = gzipSegment(batchFrames(events));
    batchSegments.set(events, segment);
  }
  return segment;
}
