import pg from 'pg';
import type { ChangeSignals } from '../../core/ports/change-signals.js';

/** The channel on which every node hears that a tenant's audit chain recorded a change. */
export const CHANGES_CHANNEL = 'coffer_changes';

const LISTENER_HEARTBEAT_MS = 2_000;
const LISTENER_RETRY_MS = 500;

/**
 * The change feed's wake-ups from other nodes (ADR 0016): one dedicated connection per node LISTENs
 * on `coffer_changes`, whose payload is `<schema> <tenant id>` (sent by the appending transaction,
 * so delivered on COMMIT only). Built like the credentials listener
 * (postgres-credentials-listener.ts): a heartbeat catches a silent socket, a lost connection is
 * retried, and while it is down `live()` is false, so the feed polls the chain heads; on every
 * (re)connection every watcher is woken (`null`), since notifications sent meanwhile were not heard.
 */
export class PostgresChangeListener implements ChangeSignals {
  readonly #url: string;
  #schema = '';
  #client: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  readonly #listeners = new Set<(tenantId: string | null) => void>();

  constructor(url: string) {
    this.#url = url;
  }

  live(): boolean {
    return this.#listening;
  }

  subscribe(listener: (tenantId: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(tenantId: string | null): void {
    for (const listener of this.#listeners) {
      try {
        listener(tenantId);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch {
      this.#drop();
    }
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    this.#client = client;
    client.on('error', () => this.#drop(client));
    client.on('end', () => this.#drop(client));
    client.on('notification', (message) => {
      if (message.channel !== CHANGES_CHANNEL || message.payload === undefined) return;
      const space = message.payload.indexOf(' ');
      if (space < 0 || message.payload.slice(0, space) !== this.#schema) return;
      this.#emit(message.payload.slice(space + 1));
    });
    await client.connect();
    const result = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    this.#schema = result.rows[0]?.schema ?? '';
    // Tells this connection apart in pg_stat_activity (operators; the tests cut it on purpose).
    await client.query('SELECT set_config($1, $2, false)', [
      'application_name',
      `coffer-changes:${this.#schema}`.slice(0, 63),
    ]);
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    if (this.#closed || this.#client !== client) return;
    this.#listening = true;
    this.#emit(null);
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch(() => this.#drop(client));
    }, LISTENER_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #drop(client: pg.Client | null = this.#client): void {
    if (client !== this.#client) return;
    this.#listening = false;
    this.#client = null;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    client?.end().catch(() => undefined);
    if (this.#closed || this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (!this.#closed) void this.start();
    }, LISTENER_RETRY_MS);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    const client = this.#client;
    this.#drop(client);
    await client?.end().catch(() => undefined);
  }
}
