// The decided-ids filter: never a false "no" (that would let a duplicate prediction through), few
// false "maybe"s, across its growth from one layer to several; in the join, a duplicate of a
// prediction decided in an earlier batch, or before a restart, is still found.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { IdFilter } from '../../src/feedback/id-filter.ts';
import { FeedbackJoin } from '../../src/feedback/join.ts';
import { readCounts } from '../../src/feedback/state.ts';
import type { LogEntry } from '../../src/log/event-log.ts';
import { SqliteDb } from '../../src/store/sqlite.ts';
import { TEST_SPEC } from './gen.ts';

it('holds every id added, through growth, and answers "no" for almost every other id', () => {
  const f = new IdFilter(1000);
  const n = 50_000; // 1,000 + 2,000 + … : six layers
  for (let i = 0; i < n; i++) f.add(`p${i}`);
  let found = 0;
  for (let i = 0; i < n; i++) if (f.mightHave(`p${i}`)) found++;
  expect(found).toBe(n);
  let falsePositives = 0;
  for (let i = 0; i < 100_000; i++) if (f.mightHave(`q${i}`) || f.mightHave(`p${n + i}`)) falsePositives++;
  // 10 bits and 7 probes an id: ~1% per layer at most, and the layers are mostly not full
  expect(falsePositives).toBeLessThan(2_000); // 598 with this hash
  expect(new IdFilter().mightHave('p0')).toBe(false);
});

it('still finds a prediction decided in an earlier batch, and after a restart, as a duplicate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-idf-'));
  try {
    const db = new SqliteDb(join(dir, 'feedback.db'));
    const pred = (id: string) => ({ prediction_id: id, time: 0, model: 'ctr', version: 1, arm: 'main', fields: {}, outputs: { score: 0.5 } });
    const entry = <R>(seq: number, records: R[]): LogEntry<R> => ({ seq, id: `e${seq}`, records });
    let j = await FeedbackJoin.open(db, TEST_SPEC);
    await j.step({ predictions: [entry(1, [pred('p1')])], events: [entry(1, [{ event_id: 'c1', prediction_id: 'p1', type: 'click', time: 1000 }])] }, await j.progress());
    await j.step({ predictions: [entry(2, [pred('p1')])], events: [] }, await j.progress());
    // a new join (a restart) builds its filter from the stored state
    j = await FeedbackJoin.open(db, TEST_SPEC);
    await j.step({ predictions: [entry(3, [pred('p1')])], events: [] }, await j.progress());
    const counts = await readCounts(db);
    expect([counts.predictions, counts.prediction_duplicates, counts.positives]).toEqual([1, 2, 1]);
    expect((await db.all<{ prediction_id: string }>('SELECT prediction_id FROM fb_predictions')).map((r) => r.prediction_id)).toEqual(['p1']);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
