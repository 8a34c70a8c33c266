import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { describeRepositoryContract } from './repository-contract.js';

const schemas: TestSchema[] = [];

describeRepositoryContract({
  name: 'postgres',
  // A freshly created schema per test (migrated by connect), all dropped at the end.
  open: async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    return PostgresRepository.connect(schema.url);
  },
  // Two nodes: separate pools and listeners over one schema.
  openPair: async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const a = await PostgresRepository.connect(schema.url);
    return [a, await PostgresRepository.connect(schema.url)];
  },
  cleanup: async () => {
    await Promise.all(schemas.map((s) => s.drop()));
  },
});
