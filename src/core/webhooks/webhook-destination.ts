import { BlockList, isIP } from 'node:net';
import { InvalidError } from '../errors.js';

/** Longest webhook URL accepted. */
export const WEBHOOK_URL_MAX = 2048;

/**
 * Addresses a webhook may not reach unless private destinations are allowed
 * (COFFER_WEBHOOKS_ALLOW_PRIVATE): loopback, link-local, private, shared, multicast, documentation,
 * benchmarking, reserved and unspecified ranges (IANA special-purpose registries), so that a tenant
 * admin cannot make the server send requests into the network it runs in (SSRF).
 */
const SPECIAL = (() => {
  const list = new BlockList();
  const v4: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [net, bits] of v4) list.addSubnet(net, bits, 'ipv4');
  const v6: [string, number][] = [
    ['::', 96], // unspecified, loopback and IPv4-compatible
    ['::ffff:0:0', 96], // IPv4-mapped: would reach the IPv4 address
    ['64:ff9b::', 96], // NAT64
    ['64:ff9b:1::', 48],
    ['100::', 64], // discard
    ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID…)
    ['2001:db8::', 32], // documentation
    ['2002::', 16], // 6to4: would reach an embedded IPv4 address
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['fec0::', 10], // site-local
    ['ff00::', 8], // multicast
  ];
  for (const [net, bits] of v6) list.addSubnet(net, bits, 'ipv6');
  return list;
})();

/** True when `address` (an IP literal) is loopback, link-local, private or otherwise special. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return SPECIAL.check(address, 'ipv4');
  if (family === 6) return SPECIAL.check(address, 'ipv6');
  return true;
}

function invalidUrl(message: string): InvalidError {
  return InvalidError.field('invalid_webhook', 'url', message);
}

/** The host of a URL as an IP literal (brackets removed), or null for a name. */
export function ipLiteralOf(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

/**
 * Validates a webhook URL: absolute http(s), no credentials, no fragment, a host; unless
 * `allowPrivate`, an IP literal must not be special and `localhost` names are refused (names are
 * resolved and checked again at every delivery, on the address the connection then uses).
 * Returns the URL normalised by the WHATWG parser.
 */
export function validateWebhookUrl(raw: string, allowPrivate: boolean): string {
  if (raw.length > WEBHOOK_URL_MAX)
    throw invalidUrl(`The URL must be at most ${WEBHOOK_URL_MAX} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidUrl('The URL is not an absolute URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidUrl('The URL must use https or http.');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidUrl('The URL must not contain credentials (user:password@).');
  }
  if (url.hash !== '' || raw.includes('#')) throw invalidUrl('The URL must not contain a fragment.');
  if (url.hostname === '') throw invalidUrl('The URL must name a host.');
  if (!allowPrivate) {
    const literal = ipLiteralOf(url.hostname);
    if (literal !== null && isSpecialAddress(literal)) {
      throw invalidUrl(
        'The URL points at a loopback, link-local, private or reserved address; set COFFER_WEBHOOKS_ALLOW_PRIVATE=true to allow it on a self-hosted server.',
      );
    }
    const host = url.hostname.toLowerCase().replace(/\.$/, '');
    if (host === 'localhost' || host.endsWith('.localhost')) {
      throw invalidUrl(
        'The URL points at localhost; set COFFER_WEBHOOKS_ALLOW_PRIVATE=true to allow it on a self-hosted server.',
      );
    }
  }
  return url.href;
}
