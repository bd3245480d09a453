// A shadow prediction (`<id>/shadow`, scored by a candidate version on a copy of a request) was
// never shown to the user: it takes the outcome of the prediction it shadows, with its own score,
// whether it arrives before or after that prediction is decided; it is never a timeout negative
// on its own, and it is counted apart from the positives and negatives. A shadow whose main never
// arrives, or arrives only after the predictions' watermark passed the shadow's time + the unmatched
// timeout, is quarantined as an orphan then (it no longer holds the replay point), in the join and
// in the oracle alike.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { SqliteDb } from '../../src/store/sqlite.ts';
import { FeedbackJoin, ORD } from '../../src/feedback/join.ts';
import { accumulateMetrics, ensureMetricsSchema } from '../../src/feedback/metrics/accumulate.ts';
import { runFeedback } from '../../src/feedback/run.ts';
import type { LogEntry } from '../../src/log/event-log.ts';
import type { OutcomeEvent, PredictionRecord } from '../../src/feedback/records.ts';
import { openFeedbackDb, readCounts, readProgress } from '../../src/feedback/state.ts';
import { expectOracleOutput, fillLogs, runOracle, tempProject } from './harness.ts';
import { TEST_SPEC } from './gen.ts';
import { SqliteTestLog } from './sqlite-log.ts';

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

  it('quarantines a shadow whose main never comes, or comes too late, as an orphan, and moves the replay point past it', async () => {
    const db = new SqliteDb(join(t.dir, 'orphans.db'));
    const j = await FeedbackJoin.open(db, TEST_SPEC);
    // entry 1: two shadows alone (no main yet); entry 2: p1
    await j.step({ predictions: [entry(1, [pred('ghost', 0, 0.7, true), pred('tardy', 0, 0.6, true)]), entry(2, [pred('p1', 0, 0.2)])], events: [] }, await j.progress());
    expect(Number((await readProgress(db)).replay_from)).toBe(1);
    // entry 3: q moves the predictions' watermark to 11 min − 10 s, past 0 + 10 min; `tardy` comes
    // after that, too late for its shadow (it is an ordinary prediction). Clicks decide p1 and tardy.
    await j.step(
      {
        predictions: [entry(3, [pred('q', 11 * MIN, 0.1), pred('tardy', MIN, 0.4)])],
        events: [entry(1, [{ event_id: 'c1', prediction_id: 'p1', type: 'click', time: MIN } satisfies OutcomeEvent, { event_id: 'ct', prediction_id: 'tardy', type: 'click', time: 2 * MIN }])],
      },
      await j.progress(),
    );
    // a copy of an orphan arriving again is a duplicate, not a new open prediction
    await j.step({ predictions: [entry(4, [pred('ghost', 0, 0.7, true)])], events: [] }, await j.progress());
    const quarantine = await db.all<{ source: string; ord: number; reason: string; batch: number }>('SELECT source, ord, reason, batch FROM fb_quarantine ORDER BY ord');
    expect(quarantine.map((q) => [q.source, Number(q.ord), q.reason, Number(q.batch)])).toEqual([
      ['predictions', ORD, "orphan shadow: no prediction ghost before the predictions' watermark passed the shadow's time + 600000 ms", 2],
      ['predictions', ORD + 1, "orphan shadow: no prediction tardy before the predictions' watermark passed the shadow's time + 600000 ms", 2],
    ]);
    const orphans = await db.all<{ prediction_id: string; ord: number }>('SELECT prediction_id, ord FROM fb_orphans ORDER BY ord');
    expect(orphans.map((o) => [o.prediction_id, Number(o.ord)])).toEqual([['ghost/shadow', ORD], ['tardy/shadow', ORD + 1]]);
    const rows = await db.all<{ prediction_id: string; label: number; event_id: string | null }>('SELECT prediction_id, label, event_id FROM fb_predictions ORDER BY prediction_id');
    expect(rows.map((r) => [r.prediction_id, r.label, r.event_id])).toEqual([['p1', 1, 'c1'], ['tardy', 1, 'ct']]);
    const counts = await readCounts(db);
    expect([counts.shadow_orphans, counts.quarantined, counts.positives, counts.shadow_examples ?? 0, counts.prediction_duplicates, counts.predictions]).toEqual([2, 2, 2, 0, 1, 5]);
    // only q (entry 3) is open: a restart replays from there, not from the orphans' entry 1
    const prog = await readProgress(db);
    expect([Number(prog.replay_from), Number(prog.pred_seq)]).toEqual([3, 4]);
    await db.close();
  });

  it('gives the oracle output with shadows, late shadows, orphans and too-late mains, across restarts', async () => {
    const dir = join(t.dir, 'project');
    Project.init(dir, 'fb');
    const project = await Project.open(dir);
    try {
      const logs = { predictions: new SqliteTestLog(join(dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(dir, 'logs.db'), 'events') };
      const files = await fillLogs({ predictions: 6000, seed: 11, entry: 100, shadows: 0.2 }, logs, dir, TEST_SPEC);
      const duck = await project.duck();
      await runOracle(duck, TEST_SPEC, files);
      const db = openFeedbackDb(project);
      await ensureMetricsSchema(db);
      // a restart every 3 batches: open shadows are rebuilt from the log, orphans stay quarantined
      for (let round = 0; round < 500; round++) {
        const fj = await FeedbackJoin.open(db, TEST_SPEC, accumulateMetrics);
        const stop = new AbortController();
        let batches = 0;
        const s = await runFeedback(project, fj, logs, { once: true, batchRecords: 300, signal: stop.signal, onBatch: () => ++batches === 3 && stop.abort() });
        if (s.lag.predictions === 0 && s.lag.events === 0) break;
      }
      const { examples } = await expectOracleOutput(project, duck, db);
      const oracleOrphans = await duck.all<{ prediction_id: string; ord: number }>('SELECT prediction_id, ord FROM oracle_orphans ORDER BY ord');
      const orphans = await db.all<{ prediction_id: string; ord: number }>('SELECT prediction_id, ord FROM fb_orphans ORDER BY ord');
      expect(orphans.map((o) => [o.prediction_id, Number(o.ord)])).toEqual(oracleOrphans.map((o) => [o.prediction_id, Number(o.ord)]));
      // both kinds: no main at all, and a main after the timeout
      expect(orphans.filter((o) => o.prediction_id.startsWith('ghost')).length).toBeGreaterThan(10);
      expect(orphans.filter((o) => o.prediction_id.startsWith('tardy')).length).toBeGreaterThan(10);
      const counts = await readCounts(db);
      const [paired] = await duck.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM oracle_examples WHERE ends_with(prediction_id, '/shadow')`);
      expect(paired!.n).toBeGreaterThan(500);
      expect([counts.shadow_examples, counts.shadow_orphans, counts.positives! + counts.negatives! + counts.shadow_examples!]).toEqual([paired!.n, orphans.length, examples]);
      // the replay point stands at the oldest open prediction, not at the first orphan
      const prog = await readProgress(db);
      expect(Number(prog.replay_from)).toBeGreaterThan(Math.floor(Number(orphans.at(-1)!.ord) / ORD));
      await db.close();
    } finally {
      await project.close();
    }
  }, 120_000);
});
