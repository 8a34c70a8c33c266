import type { ProblemDetails } from './native-api-types.js';

/** A non-2xx answer of the native API: its status and, when the body was one, its ProblemDetails. */
export class CofferApiError extends Error {
  readonly status: number;
  readonly problem: ProblemDetails | null;

  constructor(status: number, problem: ProblemDetails | null) {
    super(problem?.detail ?? problem?.title ?? `Coffer answered HTTP ${status}.`);
    this.name = 'CofferApiError';
    this.status = status;
    this.problem = problem;
  }

  /** The stable machine-readable reason (`secret_not_found`, `precondition_failed`, …), if any. */
  get code(): string | undefined {
    return this.problem?.code;
  }
}
