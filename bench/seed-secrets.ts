import { parseConfig } from '../src/config.js';
import { OPERATOR } from '../src/core/actor.js';
import { buildRuntime } from '../src/composition/runtime.js';

/**
 * Seeds `count` secrets with real encrypted versions into a tenant's `default` store, through the
 * core's batch create (the path Cloudflare's bulk create uses): one transaction per batch.
 * Run as: node dist/bench/seed-secrets.js DATA_DIR TENANT COUNT
 */
const [dataDir, tenant, countText] = process.argv.slice(2);
if (dataDir === undefined || tenant === undefined || countText === undefined) {
  process.stderr.write('usage: seed-secrets DATA_DIR TENANT COUNT\n');
  process.exit(2);
}
const count = Number(countText);
const batch = 5_000;
const runtime = await buildRuntime(
  parseConfig({ COFFER_DATA_DIR: dataDir, COFFER_SECRET_QUOTA: String(count + 10_000), LOG_LEVEL: 'silent' }),
);
const store = await runtime.core.stores.ensure(OPERATOR, tenant, 'default');
const started = process.hrtime.bigint();
for (let offset = 0; offset < count; offset += batch) {
  const inputs = Array.from({ length: Math.min(batch, count - offset) }, (_, i) => ({
    name: `seed-${String(offset + i).padStart(7, '0')}`,
    value: `seeded-value-${offset + i}-${'x'.repeat(32)}`,
  }));
  await runtime.core.secrets.createMany(OPERATOR, tenant, { id: store.id }, inputs);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await runtime.close();
process.stdout.write(`${JSON.stringify({ count, seconds })}\n`);
