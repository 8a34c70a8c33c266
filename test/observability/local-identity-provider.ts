import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * A minimal OpenID provider on 127.0.0.1 for tests: a discovery document and a JWKS with one RS256
 * key, plus a token mint. It counts requests per path, so tests can see what Coffer fetched.
 */
export interface LocalIdentityProvider {
  /** `http://127.0.0.1:PORT`: the issuer, and the base of discovery and JWKS. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Requests served, by path. */
  readonly hits: Map<string, number>;
  /** Signs claims with the published key (kid `test-key`); `exp` one hour ahead unless given. */
  mint(claims: JWTPayload, options?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export interface MintOptions {
  /** Sign with a key that is not in the JWKS (under the published kid unless `kid` is given). */
  readonly foreignKey?: boolean;
  readonly kid?: string;
  /** Leave out `exp` entirely. */
  readonly noExpiry?: boolean;
}

export const AUDIENCE = 'https://coffer.test/api';
const KID = 'test-key';

export async function startLocalIdentityProvider(): Promise<LocalIdentityProvider> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const hits = new Map<string, number>();
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration') return json({ issuer, jwks_uri: `${issuer}/jwks` });
    if (path === '/jwks') return json({ keys: [jwk] });
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    hits,
    async mint(claims, options = {}) {
      const key: SigningKey = options.foreignKey ? foreign.privateKey : privateKey;
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? KID })
        .setIssuedAt();
      if (claims.iss === undefined) jwt = jwt.setIssuer(issuer);
      if (claims.aud === undefined) jwt = jwt.setAudience(AUDIENCE);
      if (claims.exp === undefined && !options.noExpiry) jwt = jwt.setExpirationTime('1h');
      return jwt.sign(key);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** `alg: none`: the given claims with no signature at all. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Replaces a signed token's payload, keeping its header and signature. */
export function withPayload(token: string, claims: JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}
