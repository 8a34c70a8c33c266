import { CREDENTIALS_CHANNEL } from './postgres-connection.js';
import { ListenConnection } from './postgres-listen-connection.js';

/**
 * One dedicated connection per node that LISTENs for credential changes made by any node. Its
 * epoch moves on every notification, and on every (re)connection, since changes made while it was
 * not listening were not heard. While it is not listening the epoch is NaN, which never equals
 * itself: the auth cache then neither serves nor keeps anything.
 */
export class CredentialsListener {
  #epoch = 0;
  readonly #connection: ListenConnection;

  constructor(url: string) {
    this.#connection = new ListenConnection({
      url,
      channel: CREDENTIALS_CHANNEL,
      handlers: {
        notified: (payload, schema) => {
          if (payload === schema) this.#epoch++;
        },
        up: () => this.#epoch++,
        down: () => this.#epoch++,
      },
    });
  }

  get epoch(): number {
    return this.#connection.listening ? this.#epoch : Number.NaN;
  }

  /** This node committed a credential change: move now, without waiting for its own notification. */
  changedHere(): void {
    this.#epoch++;
  }

  /** Connects once; on failure keeps retrying in the background (the node serves uncached meanwhile). */
  start(): Promise<void> {
    return this.#connection.start();
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}
