/** The package's public surface, for embedding Coffer or testing against it. */

export { openRuntime, type Runtime } from './cli/runtime.js';
export { type Config, parseConfig } from './config.js';
export { type AppDeps, buildApp } from './http/app.js';
