import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { rewrapDataKeys, type RewrapReport } from '../core/key-rotation.js';
import { KeyringError } from '../crypto/keyring.js';
import { KEYRING_CHECK_MS } from '../crypto/keyring-source.js';
import {
  createKeyringFile,
  keyringOf,
  readKeyringFile,
  singleKeyFile,
  updateKeyringFile,
  withActive,
  withNewKey,
  withoutKey,
} from '../crypto/keyring-file.js';
import { buildRuntime, type Runtime } from '../composition/runtime.js';
import { UsageError } from './usage-error.js';

export interface MasterKeyIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
}

/**
 * Rotation needs somewhere to add a key: a single COFFER_MASTER_KEY cannot hold two. Refuse with
 * the way out rather than rotate a key the servers would never see.
 */
function requireKeyringFile(config: Config): void {
  if (config.masterKey !== null) {
    throw new KeyringError(
      `The master key comes from COFFER_MASTER_KEY, which holds one key and cannot be rotated. Run \`coffer master-key init\` to write it to ${config.keyringFile}, unset COFFER_MASTER_KEY on every node and restart them, then rotate.`,
    );
  }
  if (!existsSync(config.keyringFile)) {
    throw new KeyringError(`No keyring file at ${config.keyringFile} (COFFER_KEYRING_FILE).`);
  }
}

async function withRuntime<T>(config: Config, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await buildRuntime(config);
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

function batchSizeOf(raw: string | undefined): number {
  if (raw === undefined) return 500;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1)
    throw new KeyringError('--batch-size must be a positive integer.');
  return Number(raw);
}

async function rewrap(runtime: Runtime, batchSize: number, io: MasterKeyIo): Promise<RewrapReport> {
  const report = await rewrapDataKeys(runtime, {
    batchSize,
    onBatch: (p) =>
      io.err.write(`re-wrapped ${p.rewrapped} data keys (${p.skipped} skipped, ${p.failed} failed)\n`),
  });
  return report;
}

function finish(report: RewrapReport, active: string, io: MasterKeyIo): number {
  io.err.write(
    `Done: ${report.rewrapped} data keys re-wrapped under ${active}, ${report.skipped} skipped, ${report.failed} failed.\n`,
  );
  if (report.failed > 0) {
    io.err.write('Some wrapped keys failed to open (corrupt or tampered rows); they keep their old KEK.\n');
  }
  if (report.remaining.length > 0) {
    io.err.write(
      `Still in use: ${report.remaining.join(', ')} (a node still writing with an older active key?). Run \`coffer master-key rewrap\` once every node has the new keyring.\n`,
    );
    return 1;
  }
  return 0;
}

export async function masterKeyCommand(argv: string[], config: Config, io: MasterKeyIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'key-id': { type: 'string' }, 'batch-size': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const batchSize = batchSizeOf(values['batch-size']);
  const path = config.keyringFile;
  switch (sub) {
    case 'init': {
      if (config.masterKey === null) throw new KeyringError('`master-key init` needs COFFER_MASTER_KEY set.');
      // Checks the key against the stored data first: never write a keyring that cannot read it.
      await withRuntime(config, async () => undefined);
      createKeyringFile(path, singleKeyFile(config.masterKey));
      io.err.write(`Wrote ${path} (0600). Unset COFFER_MASTER_KEY on every node and restart them.\n`);
      return 0;
    }
    case 'list': {
      requireKeyringFile(config);
      return withRuntime(config, async (runtime) => {
        const inUse = new Set(await runtime.repository.listKekIdsInUse());
        const file = readKeyringFile(path);
        for (const k of file.keys) {
          io.out.write(
            `${k.id}\t${k.id === file.active ? 'active' : '-'}\t${inUse.has(k.id) ? 'in use' : 'unused'}\t${k.createdAt}\n`,
          );
        }
        return 0;
      });
    }
    case 'add': {
      requireKeyringFile(config);
      let id = '';
      updateKeyringFile(path, (file) => {
        const added = withNewKey(file);
        id = added.id;
        return added.file;
      });
      io.out.write(`${id}\n`);
      io.err.write(
        `Added ${id} (not active). Copy ${path} to every node, then \`coffer master-key rotate --key-id ${id}\`.\n`,
      );
      return 0;
    }
    case 'rotate': {
      requireKeyringFile(config);
      return withRuntime(config, async (runtime) => {
        const keyId = values['key-id'];
        const written = updateKeyringFile(path, (file) => {
          if (keyId !== undefined) return withActive(file, keyId);
          const added = withNewKey(file);
          return withActive(added.file, added.id);
        });
        // This process re-wraps under the key it just activated; servers pick the file up by
        // themselves (within KEYRING_CHECK_MS, or at once when a read names the new KEK).
        runtime.keyring.adopt(keyringOf(written));
        io.out.write(`${written.active}\n`);
        io.err.write(`Active master key is now ${written.active}; re-wrapping data keys.\n`);
        const first = await rewrap(runtime, batchSize, io);
        // Servers that had not yet seen the new active key may have written under the old one
        // meanwhile: give their file watchers time, then sweep once more.
        await sleep(KEYRING_CHECK_MS * 2 + 500);
        const second = await rewrap(runtime, batchSize, io);
        return finish(
          {
            rewrapped: first.rewrapped + second.rewrapped,
            skipped: first.skipped + second.skipped,
            failed: first.failed + second.failed,
            remaining: second.remaining,
          },
          written.active,
          io,
        );
      });
    }
    case 'rewrap': {
      requireKeyringFile(config);
      return withRuntime(config, async (runtime) =>
        finish(await rewrap(runtime, batchSize, io), runtime.keyring.active.id, io),
      );
    }
    case 'retire': {
      requireKeyringFile(config);
      const id = positionals[0];
      if (id === undefined || positionals.length > 1)
        throw new UsageError('master-key retire takes one KEY_ID.');
      return withRuntime(config, async (runtime) => {
        const refuseIfInUse = async () => {
          if ((await runtime.repository.listKekIdsInUse()).includes(id)) {
            throw new KeyringError(
              `Key ${id} still wraps stored data keys; run \`coffer master-key rewrap\` (or finish the rotation) first.`,
            );
          }
        };
        await refuseIfInUse();
        const before = readKeyringFile(path);
        updateKeyringFile(path, (file) => withoutKey(file, id));
        try {
          // A node with a stale file could still have it active: look once more after removing.
          await refuseIfInUse();
        } catch (error) {
          updateKeyringFile(path, (file) => ({
            ...file,
            keys: [...file.keys, ...before.keys.filter((k) => k.id === id)],
          }));
          throw error;
        }
        io.err.write(`Retired ${id}: it is no longer in ${path}. Copy the file to every node.\n`);
        return 0;
      });
    }
    default:
      throw new UsageError(
        sub === undefined
          ? 'master-key needs a subcommand: list, add, rotate, rewrap, retire or init.'
          : `unknown master-key command ${JSON.stringify(sub)}.`,
      );
  }
}
