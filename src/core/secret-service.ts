import type { Keyring } from '../crypto/keyring.js';
import type { Repository } from './ports/repository.js';
import type { AuditTrail } from './audit-trail.js';
import type { Clock } from './clock.js';
import { SecretReads } from './secrets/secret-reads.js';
import { SecretWrites } from './secrets/secret-writes.js';

export type { OpenedValue } from './secrets/secret-reads.js';
export {
  assertWindow,
  MAX_REVEAL_BATCH,
  type SecretPrecondition,
  VERSIONS_KEPT,
} from './secrets/secret-records.js';
export type { NewSecretInput, PutValueInput, SecretPatch, SecretWrite } from './secrets/secret-writes.js';
export type { SecretRef, StoreRef } from './secrets/store-ref.js';

export interface SecretServiceDeps {
  readonly repository: Repository;
  readonly keyring: Keyring;
  readonly clock: Clock;
  /** Most secrets one tenant may hold across its stores (COFFER_SECRET_QUOTA). */
  readonly secretQuota: number;
  /** Most stores one tenant may hold (COFFER_STORE_LIMIT). */
  readonly storeLimit: number;
  readonly audit: AuditTrail;
}

/**
 * Secrets and their values: the one secret API every facade and the CLI call, one method per
 * request. Reads live in `secrets/secret-reads.ts`, changes in `secrets/secret-writes.ts`; a store is
 * named by a `StoreRef` and resolved inside the operation (`secrets/store-ref.ts`). Each method
 * checks the caller's permissions and records its events through `AuditTrail` (a change in its own
 * transaction, a read or a refusal alone), whichever wire format the caller speaks.
 */
export class SecretService {
  // Reads.
  readonly listNames: SecretReads['listNames'];
  readonly reveal: SecretReads['reveal'];
  readonly listInStore: SecretReads['listInStore'];
  readonly listByName: SecretReads['listByName'];
  readonly listAllByName: SecretReads['listAllByName'];
  readonly get: SecretReads['get'];
  readonly revealByName: SecretReads['revealByName'];
  readonly revealMany: SecretReads['revealMany'];
  readonly quota: SecretReads['quota'];
  // Changes.
  readonly putValue: SecretWrites['putValue'];
  readonly write: SecretWrites['write'];
  readonly update: SecretWrites['update'];
  readonly setValue: SecretWrites['setValue'];
  readonly createMany: SecretWrites['createMany'];
  readonly duplicate: SecretWrites['duplicate'];
  readonly delete: SecretWrites['delete'];
  readonly remove: SecretWrites['remove'];
  readonly removeMany: SecretWrites['removeMany'];

  constructor(deps: SecretServiceDeps) {
    const reads = new SecretReads(deps);
    const writes = new SecretWrites(deps);
    this.listNames = reads.listNames.bind(reads);
    this.reveal = reads.reveal.bind(reads);
    this.listInStore = reads.listInStore.bind(reads);
    this.listByName = reads.listByName.bind(reads);
    this.listAllByName = reads.listAllByName.bind(reads);
    this.get = reads.get.bind(reads);
    this.revealByName = reads.revealByName.bind(reads);
    this.revealMany = reads.revealMany.bind(reads);
    this.quota = reads.quota.bind(reads);
    this.putValue = writes.putValue.bind(writes);
    this.write = writes.write.bind(writes);
    this.update = writes.update.bind(writes);
    this.setValue = writes.setValue.bind(writes);
    this.createMany = writes.createMany.bind(writes);
    this.duplicate = writes.duplicate.bind(writes);
    this.delete = writes.delete.bind(writes);
    this.remove = writes.remove.bind(writes);
    this.removeMany = writes.removeMany.bind(writes);
  }
}
