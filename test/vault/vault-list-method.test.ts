import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import { LIST_REFUSED } from '../../src/http/vault/vault-errors.js';
import { generateToken } from '../../src/crypto/tokens.js';
import { eventsDuring, summary } from '../audit/audit-events.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Vault's LIST method, which Node's HTTP parser refuses, served as the `GET ?list=true` it means
 * (src/http/refused-methods.ts, docs/adr/0014-vault-facade.md "LIST"): through real sockets to a
 * real listening server, with node-vault's default options and with raw bytes, hostile ones included.
 */

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One HTTP/1.1 answer parsed from the start of `text` (Content-Length framed), and the bytes left. */
function parseAnswer(text: string): { answer: Answer; rest: string } | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [line = '', ...fields] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const field of fields) {
    const colon = field.indexOf(':');
    headers[field.slice(0, colon).toLowerCase()] = field.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 'NaN');
  if (Number.isNaN(length) || text.length < end + 4 + length) return null;
  return {
    answer: { status: Number(line.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) },
    rest: text.slice(end + 4 + length),
  };
}

/** A connection whose bytes are written as given; it collects everything the server sends until it closes. */
class RawConnection {
  readonly #socket: Socket;
  #received = '';
  readonly closed: Promise<string>;
  #waiting: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#received += d.toString('latin1');
      this.#waiting?.();
    });
    this.closed = new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('close', () => {
        this.#waiting?.();
        resolve(this.#received);
      });
    });
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.#socket.write(bytes);
  }

  /** The next complete answer; the bytes after it stay for the next call. */
  async next(): Promise<Answer> {
    for (;;) {
      const parsed = parseAnswer(this.#received);
      if (parsed !== null) {
        this.#received = parsed.rest;
        return parsed.answer;
      }
      if (this.#socket.destroyed) throw new Error(`closed before a whole answer: ${this.#received}`);
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
      this.#waiting = null;
    }
  }
}

/** Sends `bytes` on a fresh connection; resolves with the one answer once the server closed it. */
async function rawExchange(url: string, bytes: string | Buffer): Promise<{ answer: Answer; after: string }> {
  const connection = await RawConnection.open(url);
  connection.write(bytes);
  const answer = await connection.next();
  const after = await connection.closed;
  return { answer, after };
}

function json(answer: Answer): unknown {
  return JSON.parse(answer.body) as unknown;
}

/** A Vault envelope without its per-request id: what two answers to the same question share. */
function withoutRequestId(answer: Answer): unknown {
  const { request_id: id, ...rest } = JSON.parse(answer.body) as Record<string, unknown>;
  assert.match(String(id), /^[0-9a-f-]{36}$/);
  return rest;
}

describe('Vault LIST method (real server, raw sockets and node-vault defaults)', () => {
  let server: TestServer;
  let reader: string;
  let otherTenant: string;

  const head = (method: string, target: string, token: string | null, extra = '') =>
    `${method} ${target} HTTP/1.1\r\nHost: coffer.test\r\n${token === null ? '' : `X-Vault-Token: ${token}\r\n`}${extra}\r\n`;

  const getList = async (target: string, token: string): Promise<Answer> => {
    const response = await fetch(`${server.url}${target}`, { headers: { 'x-vault-token': token } });
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: await response.text(),
    };
  };

  before(async () => {
    server = await startTestServer();
    reader = await server.createKey('default', 'reader', ['secrets:read']);
    otherTenant = await server.createKey('other', 'admin', ['*']);
    const writer = nodeVault({ endpoint: `${server.url}/vault`, token: server.adminToken });
    for (const path of ['team/a', 'team/b/c', 'team/d/e/f', 'top']) {
      await writer.write(`kv/data/${path}`, { data: { v: path } });
    }
  });
  after(() => server.close());

  it('node-vault’s list() with its default options (the LIST method) lists, as GET ?list=true does', async () => {
    const plain = nodeVault({ endpoint: `${server.url}/vault`, token: reader });
    const root = (await plain.list('kv/metadata/')) as { data: { keys: string[] } };
    assert.deepEqual(root.data.keys, ['team/', 'top']);
    const team = (await plain.list('kv/metadata/team')) as { data: { keys: string[] } };
    assert.deepEqual(team.data.keys, ['a', 'b/', 'd/']);
    const viaGet = nodeVault({ endpoint: `${server.url}/vault`, token: reader, noCustomHTTPVerbs: true });
    assert.deepEqual(((await viaGet.list('kv/metadata/team')) as { data: unknown }).data, team.data);
    // Nothing under the path: Vault's empty 404, as for GET.
    const missing = await plain.list('kv/metadata/nothing/').then(
      () => null,
      (error: { response?: { statusCode: number; body: unknown } }) => error.response,
    );
    assert.equal(missing?.statusCode, 404);
    assert.deepEqual(missing?.body, { errors: [] });
  });

  it('a raw LIST gets the same answer as GET ?list=true, then the connection closes', async () => {
    for (const [list, get] of [
      ['/vault/v1/kv/metadata/team/', '/vault/v1/kv/metadata/team/?list=true'],
      ['/vault/v1/kv/metadata', '/vault/v1/kv/metadata?list=true'],
      // Its own query is kept, a `list` parameter replaced.
      ['/vault/v1/kv/metadata/team?list=false', '/vault/v1/kv/metadata/team?list=true'],
    ] as const) {
      const { answer, after: trailing } = await rawExchange(server.url, head('LIST', list, reader));
      const expected = await getList(get, reader);
      assert.equal(answer.status, 200, list);
      assert.equal(expected.status, 200, get);
      assert.deepEqual(withoutRequestId(answer), withoutRequestId(expected), list);
      for (const name of ['content-type', 'cache-control', 'x-content-type-options']) {
        assert.equal(answer.headers[name], expected.headers[name], `${list}: ${name}`);
      }
      assert.equal(answer.headers.connection, 'close');
      assert.equal(trailing, '', 'nothing after the answer');
    }
    // hvac (requests) sends `Content-Length: 0` with LIST; a small body fully sent is read and dropped.
    for (const extra of [
      'Content-Length: 0\r\n',
      'Content-Length: 2\r\nContent-Type: application/json\r\n',
    ]) {
      const body = extra.startsWith('Content-Length: 2') ? '{}' : '';
      const { answer } = await rawExchange(
        server.url,
        `${head('LIST', '/vault/v1/kv/metadata/', reader, extra)}${body}`,
      );
      assert.equal(answer.status, 200, extra);
      assert.deepEqual((json(answer) as { data: unknown }).data, { keys: ['team/', 'top'] });
    }
  });

  it('a LIST without a token or with an unknown one: 403 permission denied; another tenant’s: its own empty 404; all like GET', async () => {
    for (const [token, status] of [
      [null, 403],
      [generateToken(), 403],
      [otherTenant, 404],
    ] as const) {
      const { answer } = await rawExchange(server.url, head('LIST', '/vault/v1/kv/metadata/', token));
      const expected = await fetch(
        `${server.url}/vault/v1/kv/metadata/?list=true`,
        token === null ? {} : { headers: { 'x-vault-token': token } },
      );
      assert.equal(expected.status, status);
      assert.equal(answer.status, status, String(token));
      assert.deepEqual(json(answer), await expected.json());
      assert.deepEqual(json(answer), status === 403 ? { errors: ['permission denied'] } : { errors: [] });
    }
  });

  it('a LIST is audited like the GET it means, with the real client address and its own request id', async () => {
    const listEvents = await eventsDuring(server, 'default', () =>
      rawExchange(server.url, head('LIST', '/vault/v1/kv/metadata/team', reader)),
    );
    const getEvents = await eventsDuring(server, 'default', () =>
      getList('/vault/v1/kv/metadata/team?list=true', reader),
    );
    assert.ok(listEvents.length > 0);
    assert.deepEqual(summary(listEvents), summary(getEvents));
    for (const e of listEvents) {
      assert.equal(e.clientAddress, '127.0.0.1');
      assert.equal(e.actor, 'key:reader');
      assert.match(e.requestId, /^[0-9a-f-]{36}$/);
      assert.notEqual(e.requestId, getEvents[0]?.requestId);
    }
  });

  it('a LIST is measured as the GET route it is answered by', async () => {
    const count = async (): Promise<number> => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('coffer_http_request_duration_seconds_count{') &&
            l.includes('facade="vault"') &&
            l.includes('method="GET"') &&
            l.includes('status="200"') &&
            l.includes('/metadata/'),
        );
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = await count();
    await rawExchange(server.url, head('LIST', '/vault/v1/kv/metadata/team/', reader));
    assert.equal(await count(), before + 1);
  });

  it('a keep-alive client sending LIST second: the first answered and kept alive, the LIST answered, then closed', async () => {
    const connection = await RawConnection.open(server.url);
    connection.write(head('GET', '/vault/v1/kv/data/top', server.adminToken));
    const first = await connection.next();
    assert.equal(first.status, 200);
    assert.equal(first.headers.connection, 'keep-alive');
    assert.deepEqual((json(first) as { data: { data: unknown } }).data.data, { v: 'top' });
    connection.write(head('LIST', '/vault/v1/kv/metadata/team/d', reader));
    const second = await connection.next();
    assert.equal(second.status, 200);
    assert.equal(second.headers.connection, 'close');
    assert.deepEqual((json(second) as { data: unknown }).data, { keys: ['e/'] });
    assert.equal(await connection.closed, '');
  });

  it('LIST where Coffer serves no list keeps the parser’s 400, in the owning facade’s shape', async () => {
    // Outside /vault: the server's ProblemDetails.
    for (const target of ['/v1/tenants/default/stores', '/api/default/secrets', '/nothing']) {
      const { answer } = await rawExchange(server.url, head('LIST', target, reader));
      assert.equal(answer.status, 400, target);
      assert.match(answer.headers['content-type'] ?? '', /json/, target);
      assert.equal(answer.headers.connection, 'close');
      assert.doesNotMatch(answer.body, /keys/);
    }
    // Under /vault but not a metadata path (Vault serves no LIST there either), or another method.
    for (const request of [
      head('LIST', '/vault/v1/kv/data/team', reader),
      head('LIST', '/vault/v1/sys/mounts', reader),
      head('LISTEN', '/vault/v1/kv/metadata/', reader),
      head('ZZZ', '/vault/v1/kv/metadata/', reader),
    ]) {
      const { answer } = await rawExchange(server.url, request);
      assert.equal(answer.status, 400, request);
      assert.deepEqual(json(answer), { errors: [LIST_REFUSED] }, request);
    }
  });

  it('hostile LIST requests: refused with a 4xx and closed, never a 500, never left hanging', async () => {
    const list = (extra: string) => head('LIST', '/vault/v1/kv/metadata/', reader, extra);
    const cases: [string, string | Buffer][] = [
      // A head that never ends (the client sends the rest later, or never).
      [
        'truncated head',
        `LIST /vault/v1/kv/metadata/ HTTP/1.1\r\nHost: coffer.test\r\nX-Vault-Token: ${reader}\r\n`,
      ],
      ['request line only', 'LIST /vault/v1/kv/metadata/ HTTP/1.1\r\n'],
      // A chunked body cannot be known complete from the bytes the parser read.
      ['chunked', `${list('Transfer-Encoding: chunked\r\n')}2\r\n{}\r\n0\r\n\r\n`],
      ['body not all there', `${list('Content-Length: 10\r\n')}{}`],
      ['body too long', `${list('Content-Length: 1\r\n')}{}`],
      ['two lengths', `${list('Content-Length: 0\r\nContent-Length: 0\r\n')}`],
      ['bad length', `${list('Content-Length: -1\r\n')}`],
      ['pipelined after it', `${list('')}${head('GET', '/vault/v1/kv/data/top', reader)}`],
      ['folded header', list('X-Folded: a\r\n b\r\n')],
      ['control byte in a value', list('X-Bad: a\u0001b\r\n')],
      ['no host (HTTP/1.1)', `LIST /vault/v1/kv/metadata/ HTTP/1.1\r\nX-Vault-Token: ${reader}\r\n\r\n`],
      ['absolute form', head('LIST', 'http://coffer.test/vault/v1/kv/metadata/', reader)],
      ['huge header', list(`X-Big: ${'a'.repeat(maxHeaderSize + 1024)}\r\n`)],
      ['huge body', `${list('Content-Length: 1000000\r\n')}${'a'.repeat(1_000_000)}`],
      [
        'binary garbage',
        Buffer.concat([Buffer.from('LIST /vault/v1/kv/metadata/ HTTP/1.1\r\n'), Buffer.alloc(70_000, 0xff)]),
      ],
    ];
    for (const [name, bytes] of cases) {
      const connection = await RawConnection.open(server.url);
      connection.write(bytes);
      const answer = await connection.next();
      assert.ok(answer.status >= 400 && answer.status < 500, `${name}: ${answer.status}`);
      assert.equal(answer.headers.connection?.toLowerCase(), 'close', name);
      assert.doesNotMatch(answer.body, /"keys"/, name);
      await connection.closed;
    }
    // The server still answers afterwards.
    const { answer } = await rawExchange(server.url, head('LIST', '/vault/v1/kv/metadata/', reader));
    assert.equal(answer.status, 200);
  });
});

describe('Vault LIST method: the client address behind rules', () => {
  it('failed authentications by LIST count toward the per-address limit, as GETs do', async () => {
    const server = await startTestServer({ env: { COFFER_AUTH_FAILURE_LIMIT: '3' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { answer } = await rawExchange(
          server.url,
          `LIST /vault/v1/kv/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${generateToken()}\r\n\r\n`,
        );
        statuses.push(answer.status);
      }
      // The same address is now blocked, whatever method it uses.
      const get = await fetch(`${server.url}/vault/v1/kv/metadata/?list=true`, {
        headers: { 'x-vault-token': generateToken() },
      });
      statuses.push(get.status);
      const { answer } = await rawExchange(
        server.url,
        `LIST /vault/v1/kv/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${generateToken()}\r\n\r\n`,
      );
      statuses.push(answer.status);
      assert.deepEqual(statuses, [403, 403, 403, 429, 429]);
    } finally {
      await server.close();
    }
  });

  it('behind a trusted proxy, a LIST is recorded with the forwarded address, as a GET is', async () => {
    const server = await startTestServer({ env: { COFFER_TRUST_PROXY: '127.0.0.1' } });
    try {
      await nodeVault({ endpoint: `${server.url}/vault`, token: server.adminToken }).write('kv/data/x', {
        data: { v: 'x' },
      });
      const events = await eventsDuring(server, 'default', () =>
        rawExchange(
          server.url,
          `LIST /vault/v1/kv/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${server.adminToken}\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n`,
        ),
      );
      assert.ok(events.length > 0);
      for (const e of events) assert.equal(e.clientAddress, '203.0.113.7');
    } finally {
      await server.close();
    }
  });
});
