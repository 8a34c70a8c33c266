import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import semver from 'semver';

const root = new URL('../../../', import.meta.url);

interface LockEntry {
  readonly engines?: { readonly node?: string } | string[];
}
interface PackageJson {
  readonly engines: { readonly node: string };
}

const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/**
 * `npm ci` on the project's floor (package.json `engines`, Node 20) warns EBADENGINE for any locked
 * package whose own `engines.node` excludes it. None may: the one that did (cookie 2, under Fastify's
 * light-my-request) is pinned to cookie 1.1.1 by `overrides`. wrangler, which needs Node 22.12, is
 * not in this lockfile: it lives in tools/wrangler and runs on the Node 22 packaged there.
 */
test('every package in the lockfile runs on the Node line that package.json admits', () => {
  const floor = semver.minVersion(pkg.engines.node);
  assert.ok(floor, pkg.engines.node);
  // The newest release of the floor's line (20.x), as the project's machines and CI run it.
  const node = `${floor.major}.99.99`;
  const ranges = Object.entries(lock.packages).flatMap(([name, e]) =>
    Array.isArray(e.engines) || e.engines?.node === undefined ? [] : [[name, e.engines.node] as const],
  );
  assert.ok(ranges.length > 50, 'the lockfile records engines');
  const refusing = ranges.filter(([, range]) => !semver.satisfies(node, range));
  assert.deepEqual(refusing, []);
  assert.ok(!Object.keys(lock.packages).some((p) => p.endsWith('node_modules/wrangler')));
});
