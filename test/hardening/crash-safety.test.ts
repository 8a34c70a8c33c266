import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { spawnServer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';

const TOKEN = /coffer_[0-9A-Za-z]{49}/;
const ROUNDS = 3;
const WRITERS = 32;

interface Ledger {
  /** Values the server acknowledged (204), in order. */
  readonly acked: string[];
  /** The value whose PUT had not been answered when the server died, if any. */
  inFlight: string | null;
}

/**
 * SIGKILL while many writes are in flight, then a fresh server over the same files: what was
 * acknowledged must read back intact, and nothing may be half-written. Each writer owns its keys
 * and waits for each answer before the next write, so "the newest acknowledged value, or the one
 * in flight at the kill" is the only correct outcome for each key.
 */
describe('crash safety', () => {
  const dir = tempDir('coffer-crash-');
  after(() => dir.remove());

  it(`survives ${ROUNDS} rounds of SIGKILL under concurrent writes`, async () => {
    const env = { COFFER_DATA_DIR: dir.path };
    let token = '';
    // key → its ledger, over all rounds (keys are rewritten in later rounds).
    const ledgers = new Map<string, Ledger>();
    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer(env);
      token ||= TOKEN.exec(server.output())?.[0] ?? '';
      assert.match(token, TOKEN);
      let acks = 0;
      let alive = true;
      const writer = async (w: number) => {
        for (let n = 0; alive; n++) {
          // Alternate between overwriting the writer's own secret (new versions) and creating new ones.
          const key = n % 2 === 0 ? `w${w}` : `r${round}-w${w}-n${n}`;
          const value = `round ${round} writer ${w} write ${n} ${randomBytes(12).toString('hex')}`;
          const ledger = ledgers.get(key) ?? { acked: [], inFlight: null };
          ledgers.set(key, ledger);
          ledger.inFlight = value;
          try {
            const res = await request(server.url, 'PUT', `/api/default/secrets/${key}`, {
              token,
              body: { value },
            });
            if (res.status !== 204) throw new Error(`unexpected ${res.status}`);
            ledger.acked.push(value);
            ledger.inFlight = null;
            acks += 1;
          } catch {
            return; // the server is gone: this write's fate is unknown
          }
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
      // Kill at a different depth each round, always with writes in flight.
      const killAfter = 80 + round * 60;
      while (acks < killAfter) await new Promise((r) => setImmediate(r));
      // SIGKILL takes effect a moment after kill() returns; a fast server can answer every request
      // in that moment. The writers keep writing until the process is gone, so the kill always
      // lands on writes the server had not answered (each writer stops at its first failed write).
      server.child.kill('SIGKILL');
      await server.exited;
      alive = false;
      await Promise.all(writers);
      assert.ok(
        [...ledgers.values()].some((l) => l.inFlight !== null),
        'writes were in flight at the kill',
      );

      const check = await spawnServer(env);
      try {
        for (const [key, ledger] of ledgers) {
          const res = await request(check.url, 'GET', `/api/default/secrets/${key}`, { token });
          const newestAcked = ledger.acked.at(-1);
          const allowed = [newestAcked, ledger.inFlight].filter(
            (v): v is string => v !== undefined && v !== null,
          );
          if (res.status === 404) {
            assert.equal(newestAcked, undefined, `${key}: an acknowledged write was lost`);
          } else {
            assert.equal(res.status, 200, `${key}: ${res.status} ${res.text}`);
            assert.ok(
              allowed.includes(res.text),
              `${key}: read ${JSON.stringify(res.text)}, expected one of ${JSON.stringify(allowed)}`,
            );
          }
          // Whatever was read is now the truth for the next round.
          if (res.status === 200) {
            ledger.acked.length = 0;
            ledger.acked.push(res.text);
          }
          ledger.inFlight = null;
        }
        // Nothing half-written is listed: every listed name reads back a value that was sent for it.
        const listed = (await request(check.url, 'GET', '/api/default/secrets', { token })).json as string[];
        for (const name of listed)
          assert.ok(ledgers.get(name)?.acked.length === 1, `${name} is listed but unknown`);
      } finally {
        check.child.kill('SIGTERM');
        assert.equal(await check.exited, 0);
      }
    }
    const db = new Database(join(dir.path, 'coffer.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal((db.pragma('foreign_key_check') as unknown[]).length, 0);
    } finally {
      db.close();
    }
  });
});
