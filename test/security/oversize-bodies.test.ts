import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LINGER_MAX_BYTES } from '../../src/http/lingering-close.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 8: with many oversize bodies at once, the server answered 413 and closed the
 * connection while clients were still sending; the unread bytes made the kernel reset the
 * connection, and a client (Node's fetch) saw EPIPE or ECONNRESET instead of the 413. The server
 * now reads and discards what follows, up to a bound, before it closes (a lingering close).
 */
const PARALLEL = 16;
const SIZE = 3 * 1024 * 1024;

interface Outcome {
  readonly status: number | null;
  readonly contentType: string | null;
  readonly body: unknown;
  readonly error: string | null;
}

async function oversizeFetch(url: string, method: string, token: string): Promise<Outcome> {
  // A JSON body of SIZE bytes: a string of that length inside a valid object.
  const body = `{"value":"${'x'.repeat(SIZE - 12)}"}`;
  try {
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, contentType: res.headers.get('content-type'), body: parsed, error: null };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return {
      status: null,
      contentType: null,
      body: null,
      error: cause?.code ?? cause?.message ?? String(error),
    };
  }
}

interface EarlyAnswer {
  /** The answer as read before sending the rest of the body. */
  readonly head: string;
  /** Bytes of the body sent after the answer was read. */
  readonly sentAfter: number;
  /** The error the client met while sending the rest, if any (EPIPE, ECONNRESET). */
  readonly error: string | null;
}

/**
 * A client that does what a slow one does by chance: it sends headers announcing `length` bytes
 * and a first part, reads the whole answer, and only then sends the rest. A server that closes
 * without reading makes that rest fail with a reset; a lingering one reads it.
 */
function answerThenSendRest(url: string, path: string, token: string, length: number): Promise<EarlyAnswer> {
  const { hostname, port } = new URL(url);
  const first = 64 * 1024;
  return new Promise((resolve, reject) => {
    // Half-open: the server's FIN after its answer must not end our sending side.
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    let head = '';
    let answered = false;
    let sentAfter = 0;
    let error: string | null = null;
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => resolve({ head, sentAfter, error }));
    socket.on('data', (d: Buffer) => {
      if (answered) return;
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      const declared = /\r\ncontent-length: (\d+)\r\n/i.exec(head);
      if (end === -1 || declared === null || head.length < end + 4 + Number(declared[1])) return;
      answered = true;
      void sendRest();
    });
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const sendRest = async () => {
      try {
        for (let left = length - first; left > 0 && error === null && !socket.destroyed;) {
          const part = chunk.subarray(0, Math.min(chunk.length, left));
          const flushed = socket.write(part);
          left -= part.length;
          sentAfter += part.length;
          if (!flushed) await new Promise<void>((r) => socket.once('drain', r).once('close', r));
        }
        if (!socket.destroyed) socket.end();
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    socket.write(
      `PUT ${path} HTTP/1.1\r\nHost: coffer\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
    );
    socket.write(Buffer.alloc(first, 0x78));
  });
}

describe('security: every client of a burst of oversize bodies reads the 413', () => {
  let server: TestServer;
  let cfStore: string;
  let cfSecret: string;
  before(async () => {
    server = await startTestServer();
    const token = server.adminToken;
    await request(server.url, 'PUT', '/api/default/secrets/big', { token, body: { value: 'small' } });
    const store = await request(server.url, 'POST', '/client/v4/accounts/default/secrets_store/stores', {
      token,
      auth: 'bearer',
      body: { name: 'oversize' },
    });
    cfStore = (store.json as { result: { id: string } }).result.id;
    const created = await request(
      server.url,
      'POST',
      `/client/v4/accounts/default/secrets_store/stores/${cfStore}/secrets`,
      { token, auth: 'bearer', body: [{ name: 'BIG', value: 'small', scopes: ['workers'] }] },
    );
    cfSecret = ((created.json as { result: { id: string }[] }).result[0] ?? { id: '' }).id;
    await request(server.url, 'POST', '/default/web/envs/dev/secrets', {
      token,
      auth: 'bearer',
      body: { kind: 'Secret', name: 'BIG' },
    });
  });
  after(() => server.close());

  const facades: {
    name: string;
    method: string;
    path: () => string;
    check: (o: Outcome) => void;
  }[] = [
    {
      name: 'Neostore',
      method: 'PUT',
      path: () => '/api/default/secrets/big',
      check: (o) => {
        assert.match(o.contentType ?? '', /^application\/problem\+json/);
        assert.equal((o.body as { status: number }).status, 413);
      },
    },
    {
      name: '/v1',
      method: 'PUT',
      path: () => '/v1/tenants/default/stores/default/secrets/big',
      check: (o) => {
        assert.match(o.contentType ?? '', /^application\/problem\+json/);
        assert.equal((o.body as { code: string }).code, 'body_too_large');
      },
    },
    {
      name: 'Cloudflare',
      method: 'PATCH',
      path: () => `/client/v4/accounts/default/secrets_store/stores/${cfStore}/secrets/${cfSecret}`,
      check: (o) => {
        const b = o.body as { success: boolean; errors: { code: number }[] };
        assert.equal(b.success, false);
        assert.equal(b.errors[0]?.code, 1008);
      },
    },
    {
      name: 'envs',
      method: 'PUT',
      path: () => '/default/web/envs/dev/secrets/BIG/value',
      check: (o) => {
        assert.equal((o.body as { code: string }).code, 'body_too_large');
      },
    },
  ];

  it('a client that reads the 413 before sending the rest of its body is read to the end, not reset', async () => {
    const res = await answerThenSendRest(server.url, '/api/default/secrets/big', server.adminToken, SIZE);
    assert.match(res.head, /^HTTP\/1\.1 413 /);
    assert.match(res.head, /\r\nconnection: close\r\n/i);
    assert.equal(res.error, null, 'the rest of the body was read, not reset');
    assert.equal(res.sentAfter, SIZE - 64 * 1024);
  });

  it('a 401 sent before the body is read lingers the same way', async () => {
    const res = await answerThenSendRest(server.url, '/api/default/secrets/big', 'coffer_not-a-token', SIZE);
    assert.match(res.head, /^HTTP\/1\.1 401 /);
    assert.equal(res.error, null);
  });

  it(`the discard is bounded: past ${LINGER_MAX_BYTES / 1024 / 1024} MiB more the server closes the connection`, async () => {
    const huge = 8 * LINGER_MAX_BYTES;
    const res = await answerThenSendRest(server.url, '/api/default/secrets/big', server.adminToken, huge);
    assert.match(res.head, /^HTTP\/1\.1 413 /);
    assert.notEqual(res.error, null, 'the server stopped reading');
    assert.ok(res.sentAfter < huge - 64 * 1024, `sent ${res.sentAfter} of ${huge}`);
  });

  for (const facade of facades) {
    it(`${facade.name}: ${PARALLEL} parallel ${SIZE / 1024 / 1024} MB ${facade.method}s all get the 413 in the facade's shape`, async () => {
      const outcomes = await Promise.all(
        Array.from({ length: PARALLEL }, () =>
          oversizeFetch(`${server.url}${facade.path()}`, facade.method, server.adminToken),
        ),
      );
      const failed = outcomes.filter((o) => o.status !== 413);
      assert.deepEqual(
        failed.map((o) => o.error ?? o.status),
        [],
        `${failed.length} of ${PARALLEL} clients did not read the 413`,
      );
      for (const o of outcomes) facade.check(o);
      // The server is still well after the burst.
      const health = await request(server.url, 'GET', '/healthz');
      assert.equal(health.status, 200);
    });
  }
});
