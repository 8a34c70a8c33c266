/** Why a request never got an answer, in words, from the system's error code. */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the server running, and on this port?)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporarily)',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ECONNRESET: 'connection reset by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'the connection closed before an answer',
  EPROTO: 'TLS handshake failed (is it http:// rather than https://?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS handshake failed (is it http:// rather than https://?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted (NODE_EXTRA_CA_CERTS)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chain is not trusted (NODE_EXTRA_CA_CERTS)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not trusted (NODE_EXTRA_CA_CERTS)',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this host',
};

/**
 * A request that got no HTTP answer: the server is down, the name does not resolve, TLS failed.
 * Says which server and why (`fetch failed` says neither); `code` is the system's (ECONNREFUSED, …).
 */
export class CofferConnectionError extends Error {
  readonly url: string;
  readonly code: string | undefined;

  constructor(url: string, cause: unknown) {
    const code = systemCode(cause);
    const reason =
      code === undefined ? describe(cause) : (REASONS[code] ?? code.toLowerCase().replace(/_/g, ' '));
    super(
      `cannot reach Coffer at ${url}: ${reason}${code !== undefined && REASONS[code] !== undefined ? ` [${code}]` : ''}.`,
      {
        cause,
      },
    );
    this.name = 'CofferConnectionError';
    this.url = url;
    this.code = code;
  }
}

/** undici wraps the socket's error in `cause` (sometimes twice, or in an AggregateError). */
function systemCode(error: unknown, depth = 0): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 4) return undefined;
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const inner = systemCode(e.cause, depth + 1);
  if (inner !== undefined) return inner;
  if (Array.isArray(e.errors))
    for (const sub of e.errors) {
      const c = systemCode(sub, depth + 1);
      if (c !== undefined) return c;
    }
  return typeof e.code === 'string' ? e.code : undefined;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const message =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return message === '' ? 'no answer' : message;
}
