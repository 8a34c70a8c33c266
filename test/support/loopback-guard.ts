/**
 * Preloaded (`node --import`) into third-party programs a test runs, such as wrangler: every
 * outgoing TCP connection and DNS lookup must stay on this machine's loopback. Anything else is
 * refused before a packet leaves and reported on stderr with GUARD_MARK, so the test fails on it
 * instead of the machine quietly talking to the network (telemetry, update checks, error reports).
 */
import dns from 'node:dns';
import net from 'node:net';

export const GUARD_MARK = 'coffer-loopback-guard: refused';
/** Printed on load when COFFER_LOOPBACK_GUARD_ANNOUNCE=1, so a test can see the guard is in place. */
export const GUARD_ACTIVE = 'coffer-loopback-guard: active';

const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost', 'ip6-loopback']);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

function refuse(what: string, host: string): Error {
  process.stderr.write(`${GUARD_MARK} ${what} ${host}\n`);
  return new Error(`${GUARD_MARK} ${what} ${host}`);
}

/** The host a `Socket#connect(...)` call names: options object, `(port, host)`, or an IPC path. */
export function connectHost(args: unknown[]): string | null {
  const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: unknown; path?: unknown };
    if (typeof options.path === 'string') return null; // a Unix socket never leaves the machine
    return typeof options.host === 'string' ? options.host : 'localhost';
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return null; // connect(path)
  return typeof args[1] === 'string' ? args[1] : 'localhost';
}

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
const originalConnect = net.Socket.prototype.connect as unknown as Connect;
const guardedConnect: Connect = function (this: net.Socket, ...args: unknown[]) {
  const host = connectHost(args);
  if (host !== null && !isLoopback(host)) throw refuse('connection to', host);
  return originalConnect.apply(this, args);
};
net.Socket.prototype.connect = guardedConnect as unknown as typeof net.Socket.prototype.connect;

type Lookup = (hostname: string, ...rest: unknown[]) => unknown;
const originalLookup = dns.lookup as unknown as Lookup;
const guardedLookup: Lookup = (hostname, ...rest) => {
  if (!isLoopback(hostname)) throw refuse('DNS lookup of', hostname);
  return originalLookup(hostname, ...rest);
};
dns.lookup = guardedLookup as unknown as typeof dns.lookup;
const originalPromiseLookup = dns.promises.lookup as unknown as (
  hostname: string,
  ...rest: unknown[]
) => Promise<unknown>;
dns.promises.lookup = ((hostname: string, ...rest: unknown[]) =>
  isLoopback(hostname)
    ? originalPromiseLookup(hostname, ...rest)
    : Promise.reject(refuse('DNS lookup of', hostname))) as unknown as typeof dns.promises.lookup;

if (process.env.COFFER_LOOPBACK_GUARD_ANNOUNCE === '1') process.stderr.write(`${GUARD_ACTIVE}\n`);
