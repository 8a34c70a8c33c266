import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { ReceiverConnections, sendWebhook } from '../../src/webhooks/webhook-sender.js';

/**
 * Kept-alive connections to webhook receivers, over real loopback servers: reused for the same checked
 * address, a connection the receiver dropped while idle costs a retry on a new one (not a failed
 * delivery), and the pools are bounded.
 */
const OPTIONS = { timeoutMs: 2_000, allowPrivate: true };

async function listen(server: Server | NetServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

function close(server: Server | NetServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('webhook receiver connections', () => {
  const connections = new ReceiverConnections();
  after(() => connections.close());

  it('reuses one connection for deliveries to the same receiver, and none without a pool', async () => {
    let opened = 0;
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    server.on('connection', () => {
      opened += 1;
    });
    const url = await listen(server);
    try {
      for (let i = 0; i < 5; i++) {
        const outcome = await sendWebhook(url, {}, `{"n":${i}}`, { ...OPTIONS, connections });
        assert.deepEqual(outcome, { ok: true, status: 204 });
      }
      assert.equal(opened, 1, 'five deliveries, one connection');
      for (let i = 0; i < 3; i++) {
        assert.equal((await sendWebhook(url, {}, '{}', OPTIONS)).ok, true);
      }
      assert.equal(opened, 4, 'without a pool each delivery opens its own connection');
    } finally {
      await close(server);
    }
  });

  it('retries once on a new connection when the receiver reset an idle kept-alive one', async () => {
    // A raw receiver: its first connection answers one request and keeps the connection open, then
    // resets it when the next request arrives on it (as a receiver whose idle timer just fired does).
    const sockets: number[] = [];
    const server = createNetServer((socket) => {
      const index = sockets.length;
      sockets.push(0);
      socket.on('data', (chunk) => {
        if (!chunk.toString('latin1').includes('\r\n\r\n')) return;
        sockets[index] = (sockets[index] ?? 0) + 1;
        if (index === 0 && sockets[index] === 2) {
          socket.resetAndDestroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n');
      });
    });
    const url = await listen(server);
    try {
      assert.deepEqual(await sendWebhook(url, {}, '{}', { ...OPTIONS, connections }), {
        ok: true,
        status: 200,
      });
      const second = await sendWebhook(url, {}, '{}', { ...OPTIONS, connections });
      assert.deepEqual(second, { ok: true, status: 200 }, 'the reset idle connection was not a failure');
      assert.deepEqual(sockets, [2, 1], 'the second request reached the old connection, then a new one');
    } finally {
      await close(server);
    }
  });

  it('does not retry a reset on a new connection: the receiver really failed', async () => {
    let opened = 0;
    const server = createNetServer((socket) => {
      opened += 1;
      socket.on('data', () => socket.resetAndDestroy());
    });
    const url = await listen(server);
    try {
      const outcome = await sendWebhook(url, {}, '{}', { ...OPTIONS, connections });
      assert.deepEqual(outcome, { ok: false, status: null, error: 'connection failed (ECONNRESET)' });
      assert.equal(opened, 1);
    } finally {
      await close(server);
    }
  });

  it('never reuses a connection for a name that now resolves elsewhere (DNS rebinding)', async () => {
    // Two receivers on one port, at two loopback addresses; the name resolves to the first, then the
    // second. Keyed by name, the second attempt would ride the first receiver's open connection.
    const hits = { first: 0, second: 0 };
    const answer = (which: keyof typeof hits) =>
      createHttpServer((req, res) => {
        hits[which] += 1;
        req.resume();
        req.on('end', () => res.writeHead(204).end());
      });
    const first = answer('first');
    const second = answer('second');
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const { port } = first.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      second.once('error', reject);
      second.listen(port, '127.0.0.2', resolve);
    });
    let address = '127.0.0.1';
    const resolve = () => Promise.resolve([{ address, family: 4 }]);
    const url = `http://receiver.coffer.test:${port}/hook`;
    try {
      const send = () => sendWebhook(url, {}, '{}', { ...OPTIONS, connections, resolve });
      assert.deepEqual(await send(), { ok: true, status: 204 });
      assert.deepEqual(await send(), { ok: true, status: 204 });
      assert.deepEqual(hits, { first: 2, second: 0 }, 'the same address: its kept-alive connection');
      address = '127.0.0.2';
      assert.deepEqual(await send(), { ok: true, status: 204 });
      assert.deepEqual(hits, { first: 2, second: 1 }, 'the newly checked address, on a new connection');
    } finally {
      await close(first);
      await close(second);
    }
  });

  it('keeps one pool per checked address, and at most 64 of them', () => {
    const pools = new ReceiverConnections();
    try {
      const url = new URL('https://hooks.example.test/in');
      const a = pools.poolFor(url, '192.0.2.1');
      assert.equal(pools.poolFor(url, '192.0.2.1'), a, 'the same checked address: the same pool');
      assert.notEqual(pools.poolFor(url, '192.0.2.2'), a, 'another address: never its connections');
      assert.notEqual(pools.poolFor(new URL('http://hooks.example.test/in'), '192.0.2.1'), a);
      for (let i = 0; i < 100; i++) pools.poolFor(new URL(`https://h${i}.example.test/`), '192.0.2.9');
      assert.equal(pools.size, 64);
    } finally {
      pools.close();
      assert.equal(pools.size, 0);
    }
  });
});
