// The same join with its state (and the catalog) in PostgreSQL: exactly the oracle's examples, and
// a second runner started on the same state is refused instead of double-counting.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { openJoin } from '../../src/feedback/open.ts';
import { runFeedback } from '../../src/feedback/run.ts';
import { expectOracleOutput, fillLogs, runOracle, tempProject } from './harness.ts';
import { TEST_SPEC } from './gen.ts';
import { SqliteTestLog } from './sqlite-log.ts';

const PG = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `fbtest_${process.pid}`;
const t = tempProject();
writeFileSync(join(t.dir, 'sluice.yaml'), `name: fb\ncatalog:\n  postgres: ${PG}\n  schema: ${SCHEMA}\n`);

afterAll(async () => {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; DROP SCHEMA IF EXISTS ${SCHEMA}_feedback CASCADE`);
  await c.end();
  t.cleanup();
});

it('gives the oracle examples with the state in PostgreSQL', async () => {
  const project = await Project.open(t.dir);
  try {
    expect(project.catalogSpec.kind).toBe('postgres');
    const logs = { predictions: new SqliteTestLog(join(t.dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(t.dir, 'logs.db'), 'events') };
    const files = await fillLogs({ predictions: 6000, seed: 21, shadows: 0.1 }, logs, t.dir, TEST_SPEC);
    const duck = await project.duck();
    await runOracle(duck, TEST_SPEC, files);
    const { join: fj, db } = await openJoin(project, TEST_SPEC);
    try {
      expect(db.dialect).toBe('postgres');
      // a stale cursor (another runner got there first) is refused, not folded twice
      const before = await fj.progress();
      const entries = { predictions: await logs.predictions.read(0, { max: 2 }), events: [] };
      await fj.step(entries, before);
      await expect(fj.step(entries, before)).rejects.toThrow(/cursors moved/);
      const s = await runFeedback(project, fj, logs, { once: true, batchRecords: 2000 });
      expect(s.lag).toEqual({ predictions: 0, events: 0 });
      await expectOracleOutput(project, duck, db);
      // shadows (some orphaned) through the PostgreSQL state too
      const orphans = await db.all<{ prediction_id: string }>('SELECT prediction_id FROM fb_orphans ORDER BY prediction_id');
      const oracleOrphans = await duck.all<{ prediction_id: string }>('SELECT prediction_id FROM oracle_orphans ORDER BY prediction_id');
      expect(orphans.length).toBeGreaterThan(0);
      expect(orphans.map((o) => o.prediction_id)).toEqual(oracleOrphans.map((o) => o.prediction_id));
    } finally {
      await db.close();
    }
  } finally {
    await project.close();
  }
});
