/** One route of the facade with a body that would pass validation, for sweeping auth checks over all of them. */
export interface RouteCase {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path under `/client/v4`. */
  readonly path: string;
  readonly body?: unknown;
  readonly write: boolean;
}

const secretBody = [{ name: 'SWEEP', value: 'sweep-value', scopes: ['workers'] }];

/** The 12 account routes, addressed at `account`'s store and secret. */
export function accountRoutes(account: string, storeId: string, secretId: string): RouteCase[] {
  const base = `/accounts/${account}/secrets_store`;
  const store = `${base}/stores/${storeId}`;
  const secret = `${store}/secrets/${secretId}`;
  return [
    { method: 'GET', path: `${base}/quota`, write: false },
    { method: 'GET', path: `${base}/stores`, write: false },
    { method: 'POST', path: `${base}/stores`, body: { name: 'sweep' }, write: true },
    { method: 'GET', path: store, write: false },
    { method: 'DELETE', path: `${store}?force=true`, write: true },
    { method: 'GET', path: `${store}/secrets`, write: false },
    { method: 'POST', path: `${store}/secrets`, body: secretBody, write: true },
    { method: 'DELETE', path: `${store}/secrets`, body: { ids: [secretId] }, write: true },
    { method: 'GET', path: secret, write: false },
    { method: 'PATCH', path: secret, body: { comment: 'sweep' }, write: true },
    { method: 'DELETE', path: secret, write: true },
    {
      method: 'POST',
      path: `${secret}/duplicate`,
      body: { name: 'SWEEP_COPY', scopes: ['workers'] },
      write: true,
    },
  ];
}

/** The 11 system routes. */
export function systemRoutes(account: string, storeId: string, secretId: string): RouteCase[] {
  const base = `/system/accounts/${account}`;
  const store = `${base}/stores/${storeId}`;
  const secret = `${store}/secrets/${secretId}`;
  return [
    { method: 'GET', path: `${base}/stores`, write: false },
    { method: 'POST', path: `${base}/stores`, body: { account_id: 1, name: 'sweep' }, write: true },
    { method: 'GET', path: store, write: false },
    { method: 'DELETE', path: `${store}?force=true`, write: true },
    { method: 'GET', path: `${store}/secrets`, write: false },
    { method: 'POST', path: `${store}/secrets`, body: secretBody, write: true },
    { method: 'DELETE', path: `${store}/secrets`, body: { ids: [secretId] }, write: true },
    { method: 'GET', path: secret, write: false },
    { method: 'PATCH', path: secret, body: { comment: 'sweep' }, write: true },
    { method: 'DELETE', path: secret, write: true },
    {
      method: 'POST',
      path: `${secret}/duplicate`,
      body: { name: 'SWEEP_COPY', scopes: ['workers'] },
      write: true,
    },
  ];
}
