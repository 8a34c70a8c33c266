import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ipLiteralOf, isSpecialAddress } from '../core/webhooks/webhook-destination.js';

/**
 * The Standard Webhooks signature (spec/standard-webhooks.md): `v1,` + base64 HMAC-SHA256, keyed by
 * the secret's bytes (the base64 after `whsec_`), over `{id}.{timestamp}.{body}`.
 */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** How one attempt ended: the receiver's status, or why there was none (never the URL or a secret). */
export type SendOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status: number | null; readonly error: string };

/** Most bytes of a receiver's answer read (and dropped) before the connection is closed. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The address a delivery connects to: the URL's IP literal, or its name resolved now. Unless private
 * destinations are allowed, a name any of whose addresses is special is refused, and the connection
 * is pinned to the address checked here (the request's `lookup` answers it), so a second resolution
 * (DNS rebinding) cannot send it elsewhere.
 */
async function destinationOf(
  url: URL,
  allowPrivate: boolean,
): Promise<{ address: string; family: 4 | 6 } | { refused: string }> {
  const literal = ipLiteralOf(url.hostname);
  let candidates: { address: string; family: number }[];
  if (literal !== null) {
    candidates = [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
  } else {
    try {
      candidates = await lookup(url.hostname, { all: true, verbatim: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
      return { refused: `the host name does not resolve (${code})` };
    }
  }
  const first = candidates[0];
  if (first === undefined) return { refused: 'the host name has no address' };
  if (!allowPrivate && candidates.some((c) => isSpecialAddress(c.address))) {
    return {
      refused:
        'refused: the destination is a loopback, link-local, private or reserved address (COFFER_WEBHOOKS_ALLOW_PRIVATE)',
    };
  }
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/**
 * One POST of a signed JSON body, within `timeoutMs` from the DNS lookup to the end of the answer.
 * Redirects are not followed (a 3xx is a failure); no connection is reused.
 */
export async function sendWebhook(
  rawUrl: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  options: { timeoutMs: number; allowPrivate: boolean },
): Promise<SendOutcome> {
  const url = new URL(rawUrl);
  const signal = AbortSignal.timeout(options.timeoutMs);
  const destination = await destinationOf(url, options.allowPrivate);
  if ('refused' in destination) return { ok: false, status: null, error: destination.refused };
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all === true) {
      callback(null, [{ address: destination.address, family: destination.family }]);
    } else {
      callback(null, destination.address, destination.family);
    }
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinned,
        agent: false,
        signal,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        const done = () =>
          settle(
            status >= 200 && status < 300
              ? { ok: true, status }
              : { ok: false, status, error: `the receiver answered ${status}` },
          );
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) {
        settle({ ok: false, status: null, error: `no answer within ${options.timeoutMs} ms` });
      } else {
        settle({ ok: false, status: null, error: `connection failed (${error.code ?? 'error'})` });
      }
    });
    request.end(body);
  });
}
