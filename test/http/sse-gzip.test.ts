import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { acceptsGzip, gzipSegment, GzipStream, tableCrc32 } from '../../src/http/v1/sse-gzip.js';

test('Accept-Encoding: gzip, x-gzip or * unless at q=0', () => {
  for (const yes of [
    'gzip',
    'gzip, deflate',
    'br;q=1.0, gzip;q=0.5',
    'x-gzip',
    '*',
    'GZIP',
    ['deflate', 'gzip'],
  ]) {
    assert.equal(acceptsGzip(yes), true, String(yes));
  }
  for (const no of [
    undefined,
    '',
    'identity',
    'br, deflate',
    'gzip;q=0',
    'gzip;q=0.0, identity',
    'gzip;q=0, *',
  ]) {
    assert.equal(acceptsGzip(no), false, String(no));
  }
});

test('segments shared by streams that start at different points gunzip to what each stream carried', () => {
  const pieces = [
    Buffer.from('event: ready\n\n'),
    randomBytes(70_000),
    Buffer.from('event: change\ndata: {}\n\n'.repeat(5_000)),
    Buffer.alloc(0),
    Buffer.from(': heartbeat\n\n'),
  ];
  const shared = pieces.map(gzipSegment);
  for (const from of [0, 1, 2, 4]) {
    const stream = new GzipStream();
    const own = gzipSegment(Buffer.from(`: this stream's own, from ${from}\n\n`));
    // Its first segment twice: a segment may follow itself.
    const carried = [
      pieces[from] ?? Buffer.alloc(0),
      ...pieces.slice(from),
      Buffer.from(`: this stream's own, from ${from}\n\n`),
    ];
    const bytes = Buffer.concat([
      stream.start(),
      ...[shared[from], ...shared.slice(from)].map((s) =>
        s === undefined ? Buffer.alloc(0) : stream.add(s),
      ),
      stream.add(own),
      stream.finish(),
    ]);
    // gunzipSync checks the trailer: CRC-32 and length of the whole stream.
    assert.ok(zlib.gunzipSync(bytes).equals(Buffer.concat(carried)), `from ${from}`);
  }
});

test('the table-driven CRC-32 (Node before 20.15) is zlib’s', () => {
  const zlibCrc = (zlib as { crc32?: (data: Buffer) => number }).crc32;
  for (const data of [Buffer.alloc(0), Buffer.from('123456789'), randomBytes(10_000)]) {
    const expected = zlibCrc === undefined ? null : zlibCrc(data);
    if (data.toString() === '123456789') assert.equal(tableCrc32(data), 0xcbf43926, 'the check value');
    if (expected !== null) assert.equal(tableCrc32(data), expected);
  }
});
