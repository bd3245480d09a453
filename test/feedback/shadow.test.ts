// A shadow prediction (`<id>/shadow`, scored by a candidate version on a copy of a request) was
// never shown to the user: it takes the outcome of the prediction it shadows, with its own score,
// whether it arrives before or after that prediction is decided; it is never a timeout negative
// on its own, and it is counted apart from the positives and negatives.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteDb } from '../../src/store/sqlite.ts';
import { FeedbackJoin } from '../../src/feedback/join.ts';
import type { LogEntry } from '../../src/log/event-log.ts';
import type { OutcomeEvent, PredictionRecord } from '../../src/feedback/records.ts';
import { readCounts } from '../../src/feedback/state.ts';
import { tempProject } from './harness.ts';
import { TEST_SPEC } from './gen.ts';

const t = tempProject();
afterAll(() => t.cleanup());

const MIN = 60_000;
const pred = (id: string, time: number, score: number, shadow = false): PredictionRecord => ({
  prediction_id: shadow ? `${id}/shadow` : id,
  time,
  model: 'ctr',
  version: shadow ? 3 : 2,
  arm: shadow ? 'ctr@3' : 'main',
  ...(shadow ? { shadow: true } : {}),
  fields: { device: 'tablet' },
  outputs: { score },
});
const entry = <R>(seq: number, records: R[]): LogEntry<R> => ({ seq, id: `e${seq}`, records });

describe('shadow predictions in the feedback join', () => {
  it('take their main prediction’s label, event and time, keep their own score, and are counted apart', async () => {
    const db = new SqliteDb(join(t.dir, 'feedback.db'));
    const j = await FeedbackJoin.open(db, TEST_SPEC);
    // p1: clicked; p2: nothing happens (a timeout negative); p3: clicked, its shadow arrives later.
    await j.step(
      {
        predictions: [entry(1, [pred('p1', 0, 0.2), pred('p1', 0, 0.9, true), pred('p2', 0, 0.3), pred('p2', 0, 0.6, true), pred('p3', 0, 0.4)])],
        events: [entry(1, [{ event_id: 'c1', prediction_id: 'p1', type: 'click', time: MIN } satisfies OutcomeEvent, { event_id: 'c3', prediction_id: 'p3', type: 'click', time: 2 * MIN }])],
      },
      await j.progress(),
    );
    // Event time passes every window (30 min + 5 min lateness + 10 s delay); p3's shadow arrives.
    await j.step(
      { predictions: [entry(2, [pred('p3', 0, 0.8, true)])], events: [entry(2, [{ event_id: 'tick', prediction_id: 'nobody', type: 'impression', time: 40 * MIN }])] },
      await j.progress(),
    );
    const rows = await db.all<{ prediction_id: string; label: number; event_id: string | null; decided_at: number; score: number; arm: string }>(
      'SELECT prediction_id, label, event_id, decided_at, score, arm FROM fb_predictions ORDER BY prediction_id',
    );
    expect(rows.map((r) => [r.prediction_id, r.label, r.event_id, Number(r.decided_at), r.score, r.arm])).toEqual([
      ['p1', 1, 'c1', MIN, 0.2, 'main'],
      ['p1/shadow', 1, 'c1', MIN, 0.9, 'ctr@3'],
      ['p2', 0, null, 35 * MIN, 0.3, 'main'],
      ['p2/shadow', 0, null, 35 * MIN, 0.6, 'ctr@3'],
      ['p3', 1, 'c3', 2 * MIN, 0.4, 'main'],
      ['p3/shadow', 1, 'c3', 2 * MIN, 0.8, 'ctr@3'],
    ]);
    const counts = await readCounts(db);
    expect([counts.positives, counts.negatives, counts.shadow_predictions, counts.shadow_examples]).toEqual([2, 1, 3, 3]);
    await db.close();
  });
});
