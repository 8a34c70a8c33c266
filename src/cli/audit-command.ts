import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Config, parseConfig, resolveDataDir } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { type AnchorFileProblem, type AnchoredProblem, loadAnchors } from '../core/audit-anchor-check.js';
import { parseIsoInstant } from '../core/instant.js';
import {
  AnchorKeyError,
  anchorVerifier,
  generateAnchorKey,
  readAnchorPublicKey,
} from '../crypto/anchor-key.js';
import type { CliIo } from './cli.js';
import { type AuditRuntime, buildAuditRuntime } from '../composition/runtime.js';
import { UsageError } from './usage-error.js';

/** The platform has no tenant id; this is how the CLI names a chain (ADR 0011: several per tenant). */
function chainName(check: { readonly tenantId: string; readonly chainId: string }): string {
  const whose = check.tenantId === '' ? 'the platform' : `tenant '${check.tenantId}'`;
  // A chain written before schema 3 is the tenant's only one, named by the tenant id.
  if (check.chainId === check.tenantId) return check.tenantId === '' ? 'the platform chain' : whose;
  return `${whose}, chain ${check.chainId}`;
}

const SUBCOMMANDS = ['verify', 'export', 'checkpoint', 'prune', 'anchor-key'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const isSub = (s: string | undefined): s is Sub =>
  (SUBCOMMANDS as readonly (string | undefined)[]).includes(s);

/**
 * `coffer audit verify|export|checkpoint|prune|anchor-key`: the repository alone — checking the trail
 * needs no master key; checkpoints need the anchor key (COFFER_AUDIT_ANCHOR_KEY).
 */
export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (!isSub(sub)) {
    throw new UsageError(
      sub === undefined
        ? `audit needs a subcommand: ${SUBCOMMANDS.join(', ')}.`
        : `unknown audit command ${JSON.stringify(sub)}.`,
    );
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      tenant: { type: 'string' },
      since: { type: 'string' },
      anchors: { type: 'string', multiple: true },
      'anchor-public-key': { type: 'string', multiple: true },
      out: { type: 'string' },
    },
    strict: true,
  });
  const allowed: Readonly<Record<Sub, readonly string[]>> = {
    verify: ['tenant', 'anchors', 'anchor-public-key'],
    export: ['tenant', 'since'],
    checkpoint: [],
    prune: [],
    'anchor-key': ['out'],
  };
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !allowed[sub].includes(name)) {
      throw new UsageError(`audit ${sub} does not take --${name}.`);
    }
  }
  if (sub === 'anchor-key') return anchorKey(values.out, io);
  const since = sub === 'export' ? parseIsoInstant(requireSince(values.since)) : null;
  if (sub === 'export' && since === null) {
    throw new UsageError('--since must be an ISO 8601 date or date-time, e.g. 2030-01-31T00:00:00Z.');
  }
  const anchorFiles = values.anchors ?? [];
  if (anchorFiles.length === 0 && values['anchor-public-key'] !== undefined) {
    throw new UsageError('--anchor-public-key goes with --anchors FILE.');
  }
  if (anchorFiles.length > 0 && values.tenant !== undefined) {
    throw new UsageError('--anchors checks every chain the checkpoints name; leave out --tenant.');
  }
  const config = parseConfig(io.env);
  // Read before the database is opened: a missing file or key is the user's to fix first.
  const anchors =
    anchorFiles.length === 0
      ? null
      : readAnchorInputs(anchorFiles, values['anchor-public-key'] ?? [], config);
  if ((sub === 'checkpoint' || sub === 'prune') && config.auditAnchors === null) {
    throw new UsageError(
      `audit ${sub} needs COFFER_AUDIT_ANCHOR_KEY (and COFFER_AUDIT_ANCHOR_FILE): the key that signs checkpoints.`,
    );
  }
  if (sub === 'prune' && config.auditRetentionMs === null) {
    throw new UsageError('audit prune needs COFFER_AUDIT_RETENTION (e.g. 90d): how old an event must be.');
  }
  // Must create nothing (no database, no key file). The checkpoint line goes to stdout too.
  const runtime = await buildAuditRuntime(
    config,
    sub === 'checkpoint' || sub === 'prune' ? { stdout: io.out } : {},
  );
  try {
    if (since !== null) {
      const count = await runtime.audit.export(
        OPERATOR,
        { since, ...(values.tenant === undefined ? {} : { tenantId: values.tenant }) },
        (event) => io.out.write(`${JSON.stringify(event)}\n`),
      );
      io.err.write(`Exported ${count} audit event(s).\n`);
      return 0;
    }
    if (sub === 'checkpoint' || sub === 'prune') return await checkpoint(runtime, sub, config, io);
    return await verify(runtime, values.tenant, anchors, io);
  } finally {
    await runtime.close();
  }
}

function requireSince(since: string | undefined): string {
  if (since === undefined || since === '') throw new UsageError('--since is required.');
  return since;
}

/** `coffer audit anchor-key --out FILE`: a new Ed25519 key pair; refuses to overwrite or to sit in the data directory. */
function anchorKey(out: string | undefined, io: CliIo): number {
  if (out === undefined || out === '')
    throw new UsageError('--out FILE is required (outside the data directory).');
  const path = resolve(out);
  const dataDir = resolveDataDir(io.env);
  if (path === dataDir || path.startsWith(`${dataDir}/`)) {
    throw new UsageError(
      `the anchor key must be outside the data directory (${dataDir}): whoever holds the database must not hold it.`,
    );
  }
  const made = generateAnchorKey(path);
  io.out.write(made.publicPem);
  io.err.write(
    `Wrote the anchor key ${path} (private, mode 0600) and its public key ${made.publicKeyFile} (key id ${made.keyId}).\n` +
      `Set COFFER_AUDIT_ANCHOR_KEY=${path}; give verifiers ${basename(made.publicKeyFile)}, never the key.\n`,
  );
  return 0;
}

interface AnchorInputs {
  readonly files: { name: string; text: string }[];
  readonly keys: KeyObject[];
}

function readAnchorInputs(
  files: readonly string[],
  keyFiles: readonly string[],
  config: Config,
): AnchorInputs {
  const keys: KeyObject[] = [];
  try {
    for (const f of keyFiles) keys.push(readAnchorPublicKey(f));
  } catch (error) {
    throw new UsageError(error instanceof AnchorKeyError ? error.message : String(error));
  }
  if (keys.length === 0) {
    if (config.auditAnchors === null) {
      throw new UsageError(
        '--anchors needs --anchor-public-key FILE (or COFFER_AUDIT_ANCHOR_KEY) to check signatures.',
      );
    }
    keys.push(createPublicKey(config.auditAnchors.privateKey));
  }
  return {
    files: files.map((f) => {
      try {
        return { name: f, text: readFileSync(f, 'utf8') };
      } catch {
        throw new UsageError(`cannot read the anchors file ${f}.`);
      }
    }),
    keys,
  };
}

async function checkpoint(
  runtime: AuditRuntime,
  sub: 'checkpoint' | 'prune',
  config: Config,
  io: CliIo,
): Promise<number> {
  const anchoring = runtime.anchoring;
  if (anchoring === null) return 1; // parseConfig and the check above make this unreachable
  const { checkpoint: made, pruned } =
    sub === 'prune'
      ? await anchoring.checkpointAndPrune()
      : { checkpoint: await anchoring.checkpoint(), pruned: null };
  const where = config.auditAnchors?.file ?? null;
  io.err.write(
    `Checkpoint ${made.seq}: ${made.chains.length} chain(s) at ${made.time}, signed by key ${made.key}${where === null ? '' : `, appended to ${where}`}.\n`,
  );
  if (pruned !== null) {
    io.err.write(`Pruned ${pruned.events} event(s) from ${pruned.chains.length} chain(s).\n`);
    for (const c of pruned.chains) io.err.write(`  ${chainName(c)}: events up to seq ${c.through} pruned\n`);
    for (const r of pruned.refused) {
      io.err.write(`coffer: audit chain of ${chainName(r)} was not pruned: ${r.problem}.\n`);
    }
    if (pruned.refused.length > 0) return 1;
  }
  return 0;
}

/** How each kind of anchors problem opens its line: one distinct phrase per kind. */
const FILE_PROBLEM: Readonly<Record<AnchorFileProblem['kind'], string>> = {
  malformed: 'forged checkpoint',
  'unknown-key': 'forged checkpoint',
  'bad-signature': 'forged checkpoint',
  reordered: 're-ordered checkpoints',
  forked: 'broken checkpoint chain',
  missing: 'broken checkpoint chain',
  unlinked: 'broken checkpoint chain',
};

const CHAIN_PROBLEM: Readonly<Record<AnchoredProblem['kind'], string>> = {
  truncated: 'is truncated',
  'deleted-chain': 'was deleted',
  rewritten: 'was rewritten',
  'pruned-uncovered': 'lost events no checkpoint covers',
};

async function verify(
  runtime: AuditRuntime,
  tenant: string | undefined,
  anchors: AnchorInputs | null,
  io: CliIo,
): Promise<number> {
  const checks = await runtime.audit.verify(OPERATOR, tenant);
  let broken = 0;
  const report = (line: string) => {
    broken++;
    io.err.write(`coffer: ${line}.\n`);
  };
  let anchored: Awaited<ReturnType<AuditRuntime['audit']['verifyAgainstAnchors']>> | null = null;
  let range = '';
  if (anchors !== null) {
    const loaded = loadAnchors(anchors.files, anchorVerifier(anchors.keys));
    for (const p of loaded.problems) report(`${FILE_PROBLEM[p.kind]} (${p.where}): ${p.message}`);
    const first = loaded.checkpoints[0];
    const last = loaded.checkpoints.at(-1);
    if (first === undefined || last === undefined) {
      report('the anchors hold no valid checkpoint: nothing vouches for the trail');
    } else {
      range = `${loaded.checkpoints.length} checkpoint(s), ${first.seq}–${last.seq}, the newest of ${last.time}`;
    }
    anchored = await runtime.audit.verifyAgainstAnchors(OPERATOR, loaded.checkpoints, checks);
    for (const p of anchored.problems) {
      report(`audit chain of ${chainName(p)} ${CHAIN_PROBLEM[p.kind]}: ${p.message}`);
    }
  }
  const anchoredChains = new Set(anchored?.problems.map((p) => p.chainId) ?? []);
  for (const check of checks) {
    // A break inside what a checkpoint covers is already reported as a rewrite.
    if (check.ok || anchoredChains.has(check.chainId)) continue;
    report(`audit chain of ${chainName(check)} does not verify at seq ${check.seq}: ${check.problem}`);
  }
  if (broken > 0) return 1;
  const events = checks.reduce((n, c) => n + (c.ok ? c.events : 0), 0);
  io.out.write(`Audit trail verified: ${checks.length} chain(s), ${events} event(s).\n`);
  if (anchored !== null) io.out.write(`Anchors verified: ${range}, every signature valid.\n`);
  const covered = new Map(anchored?.chains.map((c) => [c.chainId, c.covered]) ?? []);
  for (const check of checks) {
    if (!check.ok) continue;
    const notes: string[] = [];
    if (check.from.seq > 0) {
      notes.push(
        anchored === null
          ? `events 1–${check.from.seq} pruned: the rest links from seq ${check.from.seq}'s hash ${check.from.hash.toString('hex')}, which only the signed checkpoints vouch for (verify --anchors)`
          : `events 1–${check.from.seq} pruned`,
      );
    }
    if (anchored !== null) {
      const c = covered.get(check.chainId) ?? null;
      notes.push(
        c === null
          ? 'in no checkpoint yet: nothing outside the database vouches for it'
          : `anchored at seq ${c.seq} by checkpoint ${c.checkpoint}`,
      );
    }
    io.out.write(
      `  ${chainName(check)}: seq ${check.head.seq}, head ${check.head.hash.toString('hex')}${notes.map((n) => `; ${n}`).join('')}\n`,
    );
  }
  return 0;
}
