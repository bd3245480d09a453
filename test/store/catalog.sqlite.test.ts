// Runs the catalog conformance suite on SQLite: a fresh database file in its own temp folder per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCatalog } from '../../src/store/open.ts';
import { catalogConformance } from './catalog.conformance.ts';

catalogConformance('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cat-'));
  const path = join(dir, 'catalog.db');
  return {
    open: () => openCatalog({ kind: 'sqlite', path }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
