// Runs the catalog conformance suite on PostgreSQL: a schema of its own per test, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openCatalog } from '../../src/store/open.ts';
import { catalogConformance } from './catalog.conformance.ts';

const url = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: url });
const schemas: string[] = [];

beforeAll(async () => {
  await admin.connect();
});
afterAll(async () => {
  // Any schema a failed test left behind goes too.
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await admin.end();
});

catalogConformance('PostgreSQL', async () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  return {
    open: () => openCatalog({ kind: 'postgres', url, schema }),
    destroy: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
});
