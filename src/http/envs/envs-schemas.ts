import Type, { type Static } from 'typebox';
import { SECRET_NAME_MAX, SECRET_NAME_PATTERN, TENANT_ID_PATTERN } from '../../core/names.js';

/** Project slugs: lowercase letters, digits and hyphens, starting with a letter, at most 63. */
export const PROJECT_SLUG_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** Environment names: the same alphabet, at most 31. */
export const ENVIRONMENT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
/** Longest description accepted. */
export const DESCRIPTION_MAX = 1024;

export const SECRET_NAME_MESSAGE = `The secret name must be 1-${SECRET_NAME_MAX} characters of A-Z, a-z, 0-9, '-' or '_'.`;

const OrgParam = Type.String({
  maxLength: 64,
  pattern: TENANT_ID_PATTERN.source,
  description: "Organisation: the Coffer tenant id (1-64 of A-Z, a-z, 0-9, '.', '_', '-').",
  'x-message':
    "The organisation must be 1-64 characters of A-Z, a-z, 0-9, '.', '-' or '_', starting with a letter or digit.",
});
const ProjectParam = Type.String({
  maxLength: 63,
  pattern: PROJECT_SLUG_PATTERN.source,
  description: 'Project slug: lowercase letters, digits and hyphens, starting with a letter, at most 63.',
  'x-message': 'The project slug must be 1-63 lowercase letters, digits or hyphens, starting with a letter.',
});
const EnvironmentParam = Type.String({
  maxLength: 31,
  pattern: ENVIRONMENT_NAME_PATTERN.source,
  description:
    'Environment name: lowercase letters, digits and hyphens, starting with a letter, at most 31. Every project has `default`.',
  'x-message':
    'The environment name must be 1-31 lowercase letters, digits or hyphens, starting with a letter.',
});
const SecretName = Type.String({
  minLength: 1,
  maxLength: SECRET_NAME_MAX,
  pattern: SECRET_NAME_PATTERN.source,
  description: "Secret name: 1-127 of A-Z, a-z, 0-9, '-' and '_'; case-sensitive.",
  'x-message': SECRET_NAME_MESSAGE,
});

export const EnvParams = Type.Object({ o: OrgParam, p: ProjectParam, envName: EnvironmentParam });
export type EnvParams = Static<typeof EnvParams>;
export const SecretParams = Type.Object({
  o: OrgParam,
  p: ProjectParam,
  envName: EnvironmentParam,
  name: SecretName,
});
export type SecretParams = Static<typeof SecretParams>;

/** Declare (POST) and update (PUT) share one body, as the contract has it. */
export const SecretBody = Type.Object(
  {
    kind: Type.Literal('Secret', { description: 'Always `Secret`.' }),
    name: SecretName,
    description: Type.Optional(
      Type.String({ maxLength: DESCRIPTION_MAX, description: 'Free text, at most 1,024 characters.' }),
    ),
  },
  { additionalProperties: false },
);
export type SecretBody = Static<typeof SecretBody>;

export const SetValueBody = Type.Object(
  { value: Type.String({ description: 'The value to seal (at most 65,536 bytes in UTF-8).' }) },
  { additionalProperties: false },
);
export type SetValueBody = Static<typeof SetValueBody>;

/** What leaves the process for a secret: metadata, never a value. */
export const SecretSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    hasValue: Type.Boolean({ description: 'Whether a value has been set.' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'EnvsSecret', additionalProperties: false },
);
export type SecretView = Static<typeof SecretSchema>;

export const DeletedSchema = Type.Object(
  { deleted: Type.Literal(true), name: Type.String() },
  { $id: 'EnvsDeleted', additionalProperties: false },
);
export type DeletedView = Static<typeof DeletedSchema>;
