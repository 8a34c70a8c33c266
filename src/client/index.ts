/** `coffer/client`: the typed client alone, without loading the server or a database driver. */
export { CLIENT_OPERATIONS, CofferClient, type CofferClientOptions } from './coffer-client.js';
export { CofferApiError } from './coffer-api-error.js';
export { CofferConnectionError } from './coffer-connection-error.js';
export type { StreamFrame } from './event-stream.js';
export type * from './native-api-types.js';
