import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify';

type FastifyValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;

/**
 * Route schemas compiled on first use instead of at start-up.
 *
 * Fastify compiles every route's request validators (Ajv) and response serializers
 * (fast-json-stringify) when the server becomes ready: with five facades that was about half of the
 * start-up's CPU time (BENCHMARKS.md, "Cold start"), spent on routes a given deployment may never
 * call. Here each compiler returns a function that compiles its schema the first time it runs and
 * then calls the compiled one: validation and serialization are exactly the same, and the first
 * request of a route pays its compilation once (a few milliseconds).
 *
 * A schema that does not compile would now fail on that route's first request instead of at
 * start-up, so `compileAll()` compiles every one that was registered: test/http/lazy-schema-compilers
 * starts the whole server with `compileSchemasAtStart` (buildApp), which calls it when ready.
 */
export class LazySchemaCompilers {
  readonly #pending = new Set<() => void>();

  /** `compile()` on the first call of the function returned, once; `compileAll` forces it too. */
  #deferred<F>(compile: () => F): () => F {
    let compiled: { readonly fn: F } | null = null;
    const force = (): F => {
      if (compiled === null) {
        compiled = { fn: compile() };
        this.#pending.delete(force);
      }
      return compiled.fn;
    };
    this.#pending.add(force);
    return force;
  }

  /** Wraps a validator compiler (Fastify's `setValidatorCompiler`). */
  validator(compile: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown> {
    return (routeSchema) => {
      const force = this.#deferred(() => compile(routeSchema));
      // Fastify passes a second argument ({parentData, parentDataProperty}) when the function has
      // Ajv's `schemaEnv`, so that a coerced root value is written back: both are passed through.
      const validate = ((data: unknown, context?: unknown) => {
        const inner = force() as (data: unknown, context?: unknown) => ReturnType<FastifyValidationResult>;
        const result = inner(data, context);
        // Fastify reads a failed validation's issues from the function it was given.
        validate.errors = force().errors ?? null;
        return result;
      }) as FastifyValidationResult;
      Object.defineProperty(validate, 'schemaEnv', {
        get: () => (force() as { schemaEnv?: unknown }).schemaEnv,
      });
      return validate;
    };
  }

  /** The `schemaController` option: Fastify's own serializer compiler, deferred. */
  schemaController(): NonNullable<FastifyServerOptions['schemaController']> {
    const selector = SerializerSelector();
    return {
      compilersFactory: {
        buildSerializer: (externalSchemas, serializerOptions) => {
          const compile = selector(externalSchemas, serializerOptions);
          return (routeDefinition) => {
            const force = this.#deferred(() => compile(routeDefinition));
            return (payload: unknown) => force()(payload);
          };
        },
      },
    };
  }

  /** Compiles every schema not compiled yet; throws what the first one that fails throws. */
  compileAll(): number {
    const pending = [...this.#pending];
    for (const force of pending) force();
    return pending.length;
  }
}
