import pg from 'pg';

/** How often the listening connection proves it is alive; a silent, half-open socket is caught too. */
const LISTENER_HEARTBEAT_MS = 2_000;
const LISTENER_RETRY_MS = 500;

/** What a listener does with its dedicated connection's life (postgres-listen-connection.ts). */
export interface ListenHandlers {
  /** A notification on the channel; `schema` is this connection's `current_schema()`. */
  notified(payload: string | undefined, schema: string): void;
  /** Listening (again): notifications sent while it was not were not heard. */
  up(): void;
  /** Not listening any more (a lost or closed connection); a retry follows unless closed. */
  down(): void;
}

/**
 * One dedicated connection that LISTENs on one channel, with what keeps it honest: a heartbeat
 * catches a silent socket, a lost connection is retried every LISTENER_RETRY_MS, and `listening`
 * says whether notifications are heard now. The credentials listener (auth cache epoch) and the
 * change listener (change feed wake-ups) are each one of these plus what they do on a notification.
 */
export class ListenConnection {
  readonly #url: string;
  readonly #channel: string;
  readonly #applicationName: ((schema: string) => string) | null;
  readonly #handlers: ListenHandlers;
  #schema = '';
  #client: pg.Client | null = null;
  #listening = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;

  constructor(options: {
    url: string;
    channel: string;
    handlers: ListenHandlers;
    /** Names the connection in pg_stat_activity (operators; tests cut it on purpose). */
    applicationName?: (schema: string) => string;
  }) {
    this.#url = options.url;
    this.#channel = options.channel;
    this.#handlers = options.handlers;
    this.#applicationName = options.applicationName ?? null;
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Connects once; on failure keeps retrying in the background. */
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
      if (message.channel === this.#channel) this.#handlers.notified(message.payload, this.#schema);
    });
    await client.connect();
    const result = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    this.#schema = result.rows[0]?.schema ?? '';
    if (this.#applicationName !== null) {
      await client.query('SELECT set_config($1, $2, false)', [
        'application_name',
        this.#applicationName(this.#schema).slice(0, 63),
      ]);
    }
    await client.query(`LISTEN ${this.#channel}`);
    if (this.#closed || this.#client !== client) return;
    this.#listening = true;
    this.#handlers.up();
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch(() => this.#drop(client));
    }, LISTENER_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #drop(client: pg.Client | null = this.#client): void {
    if (client !== this.#client) return;
    this.#listening = false;
    this.#handlers.down();
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
