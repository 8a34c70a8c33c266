import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { CheckpointSigner, CheckpointVerifier } from '../core/audit-checkpoint.js';

/**
 * The anchor key (docs/adr/0013-audit-anchors.md): an Ed25519 key pair that signs audit checkpoints.
 * The private key is a PKCS#8 PEM file outside the data directory (COFFER_AUDIT_ANCHOR_KEY), private to
 * the user Coffer runs as; verifiers hold only the public key (SPKI PEM, `<key file>.pub`).
 */
export class AnchorKeyError extends Error {}

/** The id a checkpoint names its key by: the first 16 bytes of SHA-256 of the raw 32-byte public key. */
export function anchorKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  // SPKI of an Ed25519 key: a fixed 12-byte prefix, then the raw key.
  return createHash('sha256')
    .update(der.subarray(der.length - 32))
    .digest('hex')
    .slice(0, 32);
}

export function anchorSigner(privateKey: KeyObject): CheckpointSigner {
  const publicKey = createPublicKey(privateKey);
  const verifier = anchorVerifier([publicKey]);
  const keyId = anchorKeyId(publicKey);
  return {
    keyId,
    sign: (bytes) => sign(null, bytes, privateKey),
    verify: (bytes, signature) => verifier.verify(keyId, bytes, signature),
  };
}

export function anchorVerifier(publicKeys: readonly KeyObject[]): CheckpointVerifier {
  const byId = new Map(publicKeys.map((k) => [anchorKeyId(k), k]));
  return {
    hasKey: (keyId) => byId.has(keyId),
    verify: (keyId, bytes, signature) => {
      const key = byId.get(keyId);
      try {
        return key !== undefined && verify(null, bytes, key, signature);
      } catch {
        return false;
      }
    },
  };
}

function readPrivately(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new AnchorKeyError(`cannot read the anchor key file ${path}.`);
  }
  try {
    // As the keyring: a signing key others can read lets them forge checkpoints.
    const mode = fstatSync(fd).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new AnchorKeyError(
        `the anchor key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: group or others may access it; chmod 600 ${path}.`,
      );
    }
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads the private anchor key; refuses a file others may read or anything but an Ed25519 key. */
export function readAnchorPrivateKey(path: string): KeyObject {
  const pem = readPrivately(path);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AnchorKeyError(`the anchor key file ${path} is not a PEM private key.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AnchorKeyError(`the anchor key file ${path} is not an Ed25519 key.`);
  }
  return key;
}

/** Reads a public anchor key (SPKI PEM); a private key file gives its public half. */
export function readAnchorPublicKey(path: string): KeyObject {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch {
    throw new AnchorKeyError(`cannot read the anchor public key ${path}.`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new AnchorKeyError(`${path} is not a PEM public key.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AnchorKeyError(`${path} is not an Ed25519 key.`);
  return key;
}

function writeNew(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AnchorKeyError(
      code === 'EEXIST' ? `${path} exists; refusing to overwrite a key.` : `cannot create ${path} (${code}).`,
    );
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new key pair: the private key (mode 0600) at `path`, the public key at `path.pub`. */
export function generateAnchorKey(path: string): { keyId: string; publicKeyFile: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const publicKeyFile = `${path}.pub`;
  if (existsSync(publicKeyFile))
    throw new AnchorKeyError(`${publicKeyFile} exists; refusing to overwrite a key.`);
  writeNew(path, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  writeNew(publicKeyFile, publicPem, 0o644);
  return { keyId: anchorKeyId(publicKey), publicKeyFile, publicPem };
}
