import { createHash } from 'node:crypto';

/**
 * Signed checkpoints of the audit chains (docs/adr/0013-audit-anchors.md): a statement of every chain's
 * head at one instant, numbered and linked to the previous checkpoint by hash, signed with an Ed25519
 * key the database does not hold, and shipped outside the database (a JSON-lines file, stdout, a sink).
 * This file is the format alone: building, hashing, and parsing a line back. Signing and verifying go
 * through the `CheckpointSigner`/`CheckpointVerifier` ports, so the core holds no key material.
 */

/** The `type` of a checkpoint line; other lines of a captured stream are not checkpoints. */
export const CHECKPOINT_TYPE = 'coffer.audit.checkpoint';

/** Bumped if the signed form ever changes; it is part of what is signed. */
export const CHECKPOINT_VERSION = 1;

/** The `prev` of checkpoint 1. */
export const CHECKPOINT_GENESIS = '0'.repeat(64);

/** One chain's head as a checkpoint states it. */
export interface CheckpointEntry {
  /** The chain's id (opaque to the verifier). */
  readonly chain: string;
  /** The tenant whose chain it is ('' = the platform chain). */
  readonly tenant: string;
  /** The head's seq: the chain held events 1…seq when the checkpoint was made. */
  readonly seq: number;
  /** The hash of event `seq`, hex. */
  readonly hash: string;
}

/** What is signed: everything of a checkpoint but its signature. */
export interface CheckpointStatement {
  readonly type: typeof CHECKPOINT_TYPE;
  readonly version: typeof CHECKPOINT_VERSION;
  /** 1, 2, 3… across every process that checkpoints one database. */
  readonly seq: number;
  /** ISO 8601 (UTC, milliseconds): when the heads were read. */
  readonly time: string;
  /** The hash of checkpoint seq-1 (hex), 64 zeros for checkpoint 1. */
  readonly prev: string;
  /** The signing key's id: the first 16 bytes of SHA-256 of its raw public key, hex. */
  readonly key: string;
  /** Every chain, sorted by chain id. */
  readonly chains: readonly CheckpointEntry[];
}

export interface SignedCheckpoint extends CheckpointStatement {
  /** Ed25519 over `signedCheckpointBytes(statement)`, base64. */
  readonly signature: string;
}

/** Signs checkpoint statements with a key outside the database (src/crypto/anchor-key.ts). */
export interface CheckpointSigner {
  readonly keyId: string;
  sign(bytes: Buffer): Buffer;
  /** Whether `signature` over `bytes` is this key's (checkpoints read back from the database). */
  verify(bytes: Buffer, signature: Buffer): boolean;
}

/** Checks signatures against the public keys a verifier was given; false for an unknown key id. */
export interface CheckpointVerifier {
  hasKey(keyId: string): boolean;
  verify(keyId: string, bytes: Buffer, signature: Buffer): boolean;
}

/**
 * A JSON array in fixed order (as the audit events' canonical form): the same bytes wherever the
 * statement is rebuilt from its line, in any language.
 */
export function signedCheckpointBytes(s: CheckpointStatement): Buffer {
  return Buffer.from(
    JSON.stringify([
      s.type,
      s.version,
      s.seq,
      s.time,
      s.prev,
      s.key,
      s.chains.map((c) => [c.chain, c.tenant, c.seq, c.hash]),
    ]),
    'utf8',
  );
}

/** What the next checkpoint's `prev` names: SHA-256 of the signed bytes, hex. */
export function checkpointHash(s: CheckpointStatement): string {
  return createHash('sha256').update(signedCheckpointBytes(s)).digest('hex');
}

export function signCheckpoint(statement: CheckpointStatement, signer: CheckpointSigner): SignedCheckpoint {
  return { ...statement, signature: signer.sign(signedCheckpointBytes(statement)).toString('base64') };
}

/** The line a sink writes (no trailing newline): the object in field order, signature last. */
export function checkpointLine(c: SignedCheckpoint): string {
  return JSON.stringify({
    type: c.type,
    version: c.version,
    seq: c.seq,
    time: c.time,
    prev: c.prev,
    key: c.key,
    chains: c.chains.map((e) => ({ chain: e.chain, tenant: e.tenant, seq: e.seq, hash: e.hash })),
    signature: c.signature,
  });
}

const HEX64 = /^[0-9a-f]{64}$/;
const KEY_ID = /^[0-9a-f]{32}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * A line of an anchors file: null when it is not a checkpoint at all (a captured stdout stream holds
 * log lines and audit events too), a string naming what is wrong when it claims to be one and is
 * malformed, else the checkpoint. Nothing here checks the signature.
 */
export function parseCheckpointLine(line: string): SignedCheckpoint | string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line.includes(CHECKPOINT_TYPE) ? 'it is not valid JSON' : null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const o = parsed as Record<string, unknown>;
  if (o.type !== CHECKPOINT_TYPE) return null;
  if (o.version !== CHECKPOINT_VERSION) return `its version ${JSON.stringify(o.version)} is not known`;
  if (!isSeq(o.seq) || o.seq < 1) return 'its seq is not a positive integer';
  if (typeof o.time !== 'string' || !ISO_MS.test(o.time) || Number.isNaN(Date.parse(o.time))) {
    return 'its time is not an ISO 8601 instant';
  }
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return 'its prev is not a SHA-256 in hex';
  if (typeof o.key !== 'string' || !KEY_ID.test(o.key)) return 'its key is not a key id';
  if (typeof o.signature !== 'string' || !BASE64.test(o.signature)) return 'its signature is not base64';
  if (!Array.isArray(o.chains)) return 'its chains are not a list';
  const chains: CheckpointEntry[] = [];
  for (const raw of o.chains as unknown[]) {
    const e = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if (
      typeof e.chain !== 'string' ||
      typeof e.tenant !== 'string' ||
      !isSeq(e.seq) ||
      typeof e.hash !== 'string' ||
      !HEX64.test(e.hash)
    ) {
      return 'one of its chains is malformed';
    }
    chains.push({ chain: e.chain, tenant: e.tenant, seq: e.seq, hash: e.hash });
  }
  return {
    type: CHECKPOINT_TYPE,
    version: CHECKPOINT_VERSION,
    seq: o.seq,
    time: o.time,
    prev: o.prev,
    key: o.key,
    chains,
    signature: o.signature,
  };
}

/** Checks the signature of a parsed checkpoint: the signed bytes are rebuilt from its fields. */
export function checkpointSignatureValid(c: SignedCheckpoint, verifier: CheckpointVerifier): boolean {
  return verifier.verify(c.key, signedCheckpointBytes(c), Buffer.from(c.signature, 'base64'));
}
