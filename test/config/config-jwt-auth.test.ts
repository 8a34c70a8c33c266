import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.js';
import { tempDir } from '../support/temp-dir.js';

/** COFFER_JWT_AUTH(_FILE): parsed once at start-up; every fault stops the start and names its field. */

const ISSUER = 'https://token.actions.githubusercontent.com';

function role(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tenant: 'acme',
    token_policies: ['secrets:read'],
    bound_audiences: ['https://github.com/octo-org'],
    bound_claims: { repository: 'octo-org/app' },
    ...over,
  };
}

function withMount(mount: Record<string, unknown>, path = 'jwt'): string {
  return JSON.stringify({ mounts: { [path]: mount } });
}

const parse = (json: string) => parseConfig({ COFFER_JWT_AUTH: json });

function refused(json: string, message: RegExp): void {
  assert.throws(
    () => parse(json),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('COFFER_JWT_AUTH', () => {
  it('is off when unset, and parses mounts, roles, durations and defaults', () => {
    assert.equal(parseConfig({}).jwtAuth, null);
    const config = parse(
      withMount({
        oidc_discovery_url: ISSUER,
        roles: {
          deploy: role({ token_ttl: '15m', token_max_ttl: '1h30m' }),
          plain: role({ user_claim: 'actor', bound_claims_type: 'glob' }),
        },
      }),
    );
    const mount = config.jwtAuth?.mounts.get('jwt');
    assert.equal(mount?.issuer, ISSUER);
    assert.equal(mount?.jwksUrl, null);
    const deploy = mount?.roles.get('deploy');
    assert.equal(deploy?.ttlSeconds, 900);
    assert.equal(deploy?.maxTtlSeconds, 5400);
    assert.equal(deploy?.userClaim, 'sub');
    assert.deepEqual([...(deploy?.boundClaims ?? [])], [['repository', ['octo-org/app']]]);
    const plain = mount?.roles.get('plain');
    assert.equal(plain?.ttlSeconds, 3600);
    assert.equal(plain?.maxTtlSeconds, 86_400);
    assert.equal(plain?.boundClaimsType, 'glob');
  });

  it('reads COFFER_JWT_AUTH_FILE, relative to the working directory', () => {
    const dir = tempDir();
    try {
      writeFileSync(
        join(dir.path, 'jwt.json'),
        withMount({ oidc_discovery_url: ISSUER, roles: { r: role() } }),
      );
      const config = parseConfig({ COFFER_JWT_AUTH_FILE: 'jwt.json' }, dir.path);
      assert.ok(config.jwtAuth?.mounts.get('jwt')?.roles.has('r'));
      assert.throws(
        () => parseConfig({ COFFER_JWT_AUTH_FILE: 'missing.json' }, dir.path),
        /readable JSON file/,
      );
      assert.throws(
        () => parseConfig({ COFFER_JWT_AUTH_FILE: 'jwt.json', COFFER_JWT_AUTH: '{}' }, dir.path),
        /not both/,
      );
    } finally {
      dir.remove();
    }
  });

  it('refuses every fault with a message naming the field', () => {
    const mount = (roles: Record<string, unknown>, over: Record<string, unknown> = {}) =>
      withMount({ oidc_discovery_url: ISSUER, roles, ...over });
    refused('{', /not valid JSON/);
    refused('{"mounts": {}}', /mounts: must be an object of at least one mount/);
    refused('{"mount": {}}', /unknown field "mount"/);
    refused(withMount({ roles: { r: role() } }), /needs oidc_discovery_url .* or jwks_url with bound_issuer/);
    refused(
      withMount({ jwks_url: `${ISSUER}/jwks`, roles: { r: role() } }),
      /bound_issuer: is required with jwks_url/,
    );
    refused(
      withMount({ oidc_discovery_url: 'http://idp.example', roles: { r: role() } }),
      /oidc_discovery_url: must be an https/,
    );
    refused(withMount({ oidc_discovery_url: ISSUER, roles: { r: role() } }, 'token'), /not "token"/);
    refused(mount({ r: role({ bound_audiences: undefined }) }), /roles\.r\.bound_audiences: is required/);
    refused(mount({ r: role({ bound_claims: undefined }) }), /roles\.r: needs bound_subject or bound_claims/);
    refused(
      mount({ r: role({ token_policies: ['secrets:read', 'root'] }) }),
      /token_policies: unknown permission "root"/,
    );
    refused(mount({ r: role({ tenant: 'no tenant' }) }), /roles\.r\.tenant: must be a tenant id/);
    refused(mount({ r: role({ token_ttl: '1d' }) }), /roles\.r\.token_ttl: must be a duration/);
    refused(
      mount({ r: role({ token_ttl: '2h', token_max_ttl: '1h' }) }),
      /token_ttl: must not exceed token_max_ttl/,
    );
    refused(
      mount({ r: role({ token_max_ttl: '769h' }) }),
      /token_max_ttl: must be a duration from 1s to 768h/,
    );
    refused(mount({ r: role({ policies: ['x'] }) }), /roles\.r: unknown field "policies"/);
    refused(
      mount({ r: role({ bound_claims_type: 'regex' }) }),
      /bound_claims_type: must be "string" or "glob"/,
    );
    refused(mount({ 'bad role!': role() }), /role names are/);
    refused(mount({}), /roles: must be an object of at least one role/);
  });
});
