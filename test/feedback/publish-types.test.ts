// The published examples' field columns: typed while the lines are made (one read of the NDJSON) they
// get exactly the types DuckDB infers from all the rows; fields not typed there (a date-like string,
// an object) are inferred as before.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { FeedbackJoin } from '../../src/feedback/join.ts';
import { runFeedback } from '../../src/feedback/run.ts';
import { openFeedbackDb } from '../../src/feedback/state.ts';
import { tempProject } from './harness.ts';
import { SqliteTestLog } from './sqlite-log.ts';
import { TEST_SPEC } from './gen.ts';

const T0 = Date.UTC(2026, 10, 1);
const MIN = 60_000;

/** Publishes one example per `fields` object (two join batches); returns the dataset's schema and the types read_json infers from the same objects. */
async function publishFields(dir: string, fields: Record<string, unknown>[]): Promise<{ published: Record<string, string>; inferred: Record<string, string> }> {
  const project = await Project.open(dir);
  const logs = { predictions: new SqliteTestLog(join(dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(dir, 'logs.db'), 'events') };
  const half = Math.ceil(fields.length / 2);
  const preds = fields.map((f, i) => ({ prediction_id: `p${i}`, time: T0 + i * 1000, model: 'ctr', version: 1, arm: 'main', fields: f, outputs: { score: 0.5 } }));
  await logs.predictions.append('a', preds.slice(0, half));
  await logs.predictions.append('b', preds.slice(half));
  // an event for no prediction, far later: its watermark closes every window (all negatives)
  await logs.events.append('e', [{ event_id: 'e1', prediction_id: 'nobody', type: 'impression', time: T0 + 24 * 60 * MIN }]);
  const db = openFeedbackDb(project);
  const fj = await FeedbackJoin.open(db, TEST_SPEC);
  await runFeedback(project, fj, logs, { once: true, batchRecords: half });
  await db.close();
  const m = await project.catalog.manifest('feedback', (await project.catalog.head('feedback'))!);
  const duck = await project.duck();
  const file = join(dir, 'fields.ndjson');
  writeFileSync(file, fields.map((f) => JSON.stringify(f)).join('\n') + '\n');
  const inferred = await duck.describe(`SELECT * FROM read_json(${lit(file)}, format = 'newline_delimited', sample_size = -1)`);
  await project.close();
  return { published: Object.fromEntries(m.schema.map((c) => [c.name, c.type])), inferred: Object.fromEntries(inferred.map((c) => [c.name, c.type])) };
}

describe('the types of the published field columns', () => {
  const dirs: (() => void)[] = [];
  afterAll(() => dirs.forEach((c) => c()));

  it('are the types read_json infers from all the rows, for strings, integers, mixed numbers, booleans and late nulls', async () => {
    const t = tempProject();
    dirs.push(t.cleanup);
    const fields = Array.from({ length: 40 }, (_, i) => ({
      ad: `a${i}`,
      n: i,
      bid: i < 30 ? i : i / 4, // integers first, then doubles: DOUBLE
      ok: i % 2 === 0,
      note: i < 25 ? null : `n${i}`, // null first, then strings: VARCHAR
      ...(i >= 35 ? { late: i } : {}), // a field only the second batch has
    }));
    const { published, inferred } = await publishFields(t.dir, fields);
    expect(inferred).toEqual({ ad: 'VARCHAR', n: 'BIGINT', bid: 'DOUBLE', ok: 'BOOLEAN', note: 'VARCHAR', late: 'BIGINT' });
    for (const [name, type] of Object.entries(inferred)) expect(published[name], name).toBe(type);
  });

  it('are inferred from the rows when a field holds a date-like string or an object', async () => {
    const t = tempProject();
    dirs.push(t.cleanup);
    const fields = Array.from({ length: 10 }, (_, i) => ({ day: `2026-11-1${i}`, where: { city: `c${i}` }, ad: `a${i}` }));
    const { published, inferred } = await publishFields(t.dir, fields);
    expect(inferred).toEqual({ day: 'DATE', where: 'STRUCT(city VARCHAR)', ad: 'VARCHAR' });
    for (const [name, type] of Object.entries(inferred)) expect(published[name], name).toBe(type);
  });
});
