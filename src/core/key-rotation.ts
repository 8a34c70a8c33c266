import { CryptoError, rewrapDataKey } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import type { VersionCursor } from './model.js';
import type { Repository } from './ports/repository.js';

export interface RewrapProgress {
  /** Data keys now wrapped by the active KEK. */
  readonly rewrapped: number;
  /** Versions that changed under us (deleted, pruned or re-wrapped by someone else): nothing to do. */
  readonly skipped: number;
  /** Wrapped keys that failed to open (tampered or corrupt rows); left as they are and logged by the caller. */
  readonly failed: number;
}

export interface RewrapReport extends RewrapProgress {
  /** KEK ids other than the active one that still wrap a data key after the walk. */
  readonly remaining: string[];
}

export interface RewrapDeps {
  readonly repository: Pick<Repository, 'listKekIdsInUse' | 'listWrappedKeys' | 'transaction'>;
  readonly keyring: Keyring;
}

/**
 * Re-wraps every data key that an older KEK wraps under the keyring's active KEK, in batches: one
 * read of up to `batchSize` versions, the crypto outside any transaction, then one short write
 * transaction whose updates are compare-and-set on the old KEK id. Readers never wait on it, and a
 * concurrent write, delete or second rotator only makes a row skip. Values are not re-encrypted.
 */
export async function rewrapDataKeys(
  deps: RewrapDeps,
  options: { batchSize?: number; onBatch?: (progress: RewrapProgress) => void } = {},
): Promise<RewrapReport> {
  const batchSize = options.batchSize ?? 500;
  const target = deps.keyring.active.id;
  let rewrapped = 0;
  let skipped = 0;
  let failed = 0;
  for (const kekId of await deps.repository.listKekIdsInUse()) {
    if (kekId === target) continue;
    let cursor: VersionCursor | null = null;
    for (;;) {
      const rows = await deps.repository.listWrappedKeys(kekId, cursor, batchSize);
      const last = rows.at(-1);
      if (last === undefined) break;
      cursor = { secretId: last.secretId, version: last.version };
      const updates: { secretId: string; version: number; next: { kekId: string; wrappedKey: Buffer } }[] =
        [];
      for (const row of rows) {
        try {
          updates.push({
            secretId: row.secretId,
            version: row.version,
            next: rewrapDataKey(deps.keyring, row, row),
          });
        } catch (error) {
          if (!(error instanceof CryptoError)) throw error;
          failed += 1;
        }
      }
      const changed = await deps.repository.transaction(async (tx) => {
        let n = 0;
        for (const u of updates) if (await tx.rewrapVersion(u.secretId, u.version, kekId, u.next)) n += 1;
        return n;
      });
      rewrapped += changed;
      skipped += updates.length - changed;
      options.onBatch?.({ rewrapped, skipped, failed });
    }
  }
  const remaining = (await deps.repository.listKekIdsInUse()).filter((id) => id !== target);
  return { rewrapped, skipped, failed, remaining };
}
