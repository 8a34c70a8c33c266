/** The package's public surface, for embedding Coffer or testing against it. */

export { buildRuntime, type Runtime } from './composition/runtime.js';
export { type Config, parseConfig } from './config.js';
export { type AppDeps, buildApp } from './http/app.js';
export { CLIENT_OPERATIONS, CofferClient, type CofferClientOptions } from './client/coffer-client.js';
export { CofferApiError } from './client/coffer-api-error.js';
export { CofferConnectionError } from './client/coffer-connection-error.js';
export type * from './client/native-api-types.js';
