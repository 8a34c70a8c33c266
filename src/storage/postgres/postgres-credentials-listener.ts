import pg from 'pg';
import { CREDENTIALS_CHANNEL } from './postgres-connection.js';

/** How often the listening connection proves it is alive; a silent, half-open socket is caught too. */
const LISTENER_HEARTBEAT_MS = 2_000;
const LISTENER_RETRY_MS = 500;

/**
 * One dedicated connection per node that LISTENs for credential changes made by any node. Its
 * epoch moves on every notification, and on every (re)connection, since changes made while it was
 * not listening were not heard. While it is not listening the epoch is NaN, which never equals
 * itself: the auth cache then neither serves nor keeps anything.
 */
export class CredentialsListener {
  readonly #url: string;
  #schema = '';
  #epoch = 0;
  #client: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;

  constructor(url: string) {
    this.#url = url;
  }

  get epoch(): number {
    return this.#listening ? this.#epoch : Number.NaN;
  }

  /** This node committed a credential change: move now, without waiting for its own notification. */
  changedHere(): void {
    this.#epoch++;
  }

  /** Connects once; on failure keeps retrying in the background (the node serves uncached meanwhile). */
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
      if (message.channel === CREDENTIALS_CHANNEL && message.payload === this.#schema) this.#epoch++;
    });
    await client.connect();
    const result = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    this.#schema = result.rows[0]?.schema ?? '';
    await client.query(`LISTEN ${CREDENTIALS_CHANNEL}`);
    if (this.#closed || this.#client !== client) return;
    this.#epoch++;
    this.#listening = true;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch(() => this.#drop(client));
    }, LISTENER_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #drop(client: pg.Client | null = this.#client): void {
    if (client !== this.#client) return;
    this.#listening = false;
    this.#epoch++;
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
