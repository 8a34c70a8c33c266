import { ApiError } from './coffer-api.js';

/** What a failed call means, in words a person can act on; Coffer's own detail is kept. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return `Something went wrong in the console: ${error instanceof Error ? error.message : String(error)}`;
  }
  const fields = Object.entries(error.fieldErrors)
    .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
    .join('; ');
  const detail = fields === '' ? error.message : fields;
  const lead = leadFor(error);
  const text = detail === '' || detail === lead ? lead : `${lead} ${sentence(detail)}`;
  return error.traceId === undefined ? text : `${text} (request id ${error.traceId})`;
}

function sentence(s: string): string {
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function leadFor(error: ApiError): string {
  switch (error.code) {
    case 'network_error':
      return 'Coffer could not be reached: check the connection and try again.';
    case 'missing_permission':
      return 'Your key does not have the permission for this.';
    case 'permission_escalation':
      return 'A key can only grant, or manage keys holding, permissions it holds itself.';
    case 'tenant_not_found':
      return 'This tenant does not exist, or your key belongs to another tenant.';
    case 'store_not_empty':
      return 'The store still holds secrets: delete them first, or tick "also delete its secrets".';
    case 'precondition_failed':
      return 'Someone else changed this in the meantime: reload and try again.';
    default:
      break;
  }
  switch (error.status) {
    case 400:
      return 'Coffer did not accept the request.';
    case 401:
      return 'Your token was not accepted: it may be mistyped, disabled or deleted.';
    case 403:
      return 'Not allowed.';
    case 404:
      return 'Not found.';
    case 409:
      return 'That conflicts with what exists.';
    case 413:
      return 'That is too large.';
    case 503:
      return 'Coffer is briefly unavailable: try again in a moment.';
    default:
      return error.status >= 500
        ? 'Coffer failed to handle the request.'
        : `Request failed (${error.status}).`;
  }
}
