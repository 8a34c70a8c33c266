import { join } from 'node:path';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';
import { tempDir } from '../support/temp-dir.js';
import { describeRepositoryContract } from './repository-contract.js';

const dir = tempDir('coffer-sqlite-contract-');
let files = 0;

describeRepositoryContract({
  name: 'sqlite',
  // A fresh database file per test.
  open: async () => SqliteRepository.open(join(dir.path, `${++files}.db`)),
  // Two connections sets over one file, as the server and the CLI hold.
  openPair: async () => {
    const file = join(dir.path, `${++files}.db`);
    return [SqliteRepository.open(file), SqliteRepository.open(file)];
  },
  cleanup: async () => dir.remove(),
});
