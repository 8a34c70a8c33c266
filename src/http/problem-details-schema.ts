import Type, { type Static } from 'typebox';

/**
 * RFC 7807 ProblemDetails, as the Neostore contract (ASP.NET Core) writes them: every error body of
 * Neostore, of the native API (`/v1`) and of the server outside every facade. Written once: the
 * server registers it (src/http/app.ts), and the typed client (src/client/native-api-types.ts)
 * takes its type from it. Only `typebox` here, nothing of the server.
 */
export const ProblemDetailsSchema = Type.Object(
  {
    type: Type.Union([Type.String(), Type.Null()]),
    title: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Integer(), Type.Null()]),
    detail: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    instance: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    code: Type.Optional(Type.String({ description: 'Stable machine-readable reason (Coffer extension).' })),
    traceId: Type.Optional(Type.String({ description: 'Request id, for support (Coffer extension).' })),
    errors: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String()), {
        description: 'HttpValidationProblemDetails: messages per invalid field.',
      }),
    ),
  },
  { $id: 'ProblemDetails', additionalProperties: true },
);
export type ProblemDetailsView = Static<typeof ProblemDetailsSchema>;
