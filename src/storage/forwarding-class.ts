/** The names of T's methods that return a promise: the calls a forwarder can wrap. */
export type AsyncMethodName<T> = {
  [K in keyof T]-?: T[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof T];

/** Runs around each forwarded call (timing, say); it must return what `call` returns. */
export type AroundCall<K> = (operation: K, call: () => Promise<unknown>) => Promise<unknown>;

/** A constructor of objects that forward the `K` methods of `T` to the target given to it. */
export type ForwardingConstructor<T, K extends keyof T> = new (
  target: T,
  around?: AroundCall<K>,
) => Pick<T, K>;

/**
 * A class whose instances have every method named in `methods`, each calling the same method of the
 * target given to the constructor (with that target as `this`), through `around` when one is given.
 * Use it as a base class, or construct it directly. `methods` is a `Record` so that a literal of it
 * fails to compile when it misses a name of K or names something else: adding a method to a port
 * then breaks the build here until the forwarder knows of it, as the hand-written ones did.
 */
export function forwardingClass<T extends object, K extends AsyncMethodName<T>>(
  methods: Readonly<Record<K, true>>,
): ForwardingConstructor<T, K> {
  // Object.keys says string[]; the keys of a Record<K, true> literal are exactly K (see above).
  const names = Object.keys(methods) as K[];

  class Forwarder {
    readonly #target: T;
    readonly #around: AroundCall<K> | undefined;

    constructor(target: T, around?: AroundCall<K>) {
      this.#target = target;
      this.#around = around;
    }

    static {
      for (const name of names) {
        Object.defineProperty(Forwarder.prototype, name, {
          configurable: true,
          writable: true,
          value: function forward(this: Forwarder, ...args: unknown[]): Promise<unknown> {
            const target = this.#target;
            // K names methods of T that return a promise (AsyncMethodName); the arguments were
            // type-checked against Pick<T, K> by the caller of this very method.
            const method = target[name] as (...params: unknown[]) => Promise<unknown>;
            const around = this.#around;
            return around === undefined
              ? method.apply(target, args)
              : around(name, () => method.apply(target, args));
          },
        });
      }
    }
  }

  // The static block gave the prototype every method of K, typed as in T: the one claim TypeScript
  // cannot check by itself.
  return Forwarder as unknown as ForwardingConstructor<T, K>;
}
