import Type, { type Static, type TSchema, type TSchemaOptions, type TUnsafe } from 'typebox';

/**
 * `{$ref: '<$id>#'}` to a schema the facade registers with `addSchema` (so that /openapi.json names it
 * once), typed as that schema's value for the type provider. The reference is read from the schema
 * itself: its target and its type cannot disagree.
 */
export function refTo<T extends TSchema>(schema: T, options: TSchemaOptions = {}): TUnsafe<Static<T>> {
  const id = '$id' in schema ? schema.$id : undefined;
  if (typeof id !== 'string') throw new TypeError('refTo: the schema has no $id to refer to.');
  return Type.Unsafe<Static<T>>({ ...options, $ref: `${id}#` });
}

/**
 * A 204 answer: OpenAPI reads `type: null`, and the handler's `reply.send()` takes no payload (a 204
 * has no body), which a `Type.Null()` would make it pass.
 */
export function noContent(description: string): TUnsafe<undefined> {
  return Type.Unsafe<undefined>(Type.Null({ description }));
}
