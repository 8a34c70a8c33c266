import { displayPrefix, generateToken, hashToken } from '../crypto/tokens.js';
import type { Repository } from '../storage/repository.js';
import type { Actor } from './actor.js';
import type { Clock } from './clock.js';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from './errors.js';
import type { ServiceCredentialRecord } from './model.js';

/** Service names follow API key names: they end up in `managedBy` and in audit events. */
const SERVICE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface ServiceView {
  readonly name: string;
  readonly enabled: boolean;
  readonly tokenPrefix: string;
  readonly createdAt: number;
}

function view(s: ServiceCredentialRecord): ServiceView {
  return { name: s.name, enabled: s.enabled, tokenPrefix: s.tokenPrefix, createdAt: s.createdAt };
}

function requireOperator(actor: Actor): void {
  if (actor.kind !== 'operator') {
    throw new ForbiddenError(
      'not_service',
      'operator_only',
      'Only the operator (CLI) manages service credentials.',
    );
  }
}

/**
 * Platform-wide service credentials (Cloudflare `system/` endpoints). Created only from the CLI:
 * no tenant key can mint one. A service manages the stores it creates, in any tenant.
 */
export class ServiceCredentialService {
  readonly #deps: { repository: Repository; clock: Clock };

  constructor(deps: { repository: Repository; clock: Clock }) {
    this.#deps = deps;
  }

  async create(actor: Actor, name: string): Promise<ServiceView & { token: string }> {
    requireOperator(actor);
    if (!SERVICE_NAME_PATTERN.test(name)) {
      throw InvalidError.field(
        'invalid_service_name',
        'service',
        "A service name is 1-64 of A-Z, a-z, 0-9, '.', '-', '_'.",
      );
    }
    const token = generateToken();
    const record: ServiceCredentialRecord = {
      name,
      enabled: true,
      tokenHash: hashToken(token),
      tokenPrefix: displayPrefix(token),
      createdAt: this.#deps.clock.now(),
    };
    if (!(await this.#deps.repository.transaction((tx) => tx.insertService(record)))) {
      throw new ConflictError('service_exists', `A service named '${name}' already exists.`);
    }
    return { ...view(record), token };
  }

  async list(actor: Actor): Promise<ServiceView[]> {
    requireOperator(actor);
    return (await this.#deps.repository.listServices()).map(view);
  }

  async setEnabled(actor: Actor, name: string, enabled: boolean): Promise<void> {
    requireOperator(actor);
    const changed = await this.#deps.repository.transaction((tx) => tx.setServiceEnabled(name, enabled));
    if (!changed) throw new NotFoundError('service_not_found', `No service named '${name}'.`);
  }

  async delete(actor: Actor, name: string): Promise<void> {
    requireOperator(actor);
    const deleted = await this.#deps.repository.transaction((tx) => tx.deleteService(name));
    if (deleted === null) throw new NotFoundError('service_not_found', `No service named '${name}'.`);
  }
}
