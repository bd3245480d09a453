// Oracle equality: the incremental exactly-once join over a messy generated stream (5% duplicate
// events, 10% out of order, 1% later than the allowed lateness, events before their prediction,
// unmatched and malformed events) publishes exactly the examples a batch DuckDB join computes.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import type { DuckSession } from '../../src/engine/duckdb.ts';
import { FeedbackJoin } from '../../src/feedback/join.ts';
import { runFeedback, type RunSummary } from '../../src/feedback/run.ts';
import { openFeedbackDb } from '../../src/feedback/state.ts';
import { diffExamples, fillLogs, loadPublished, runOracle, tempProject } from './harness.ts';
import { SqliteTestLog } from './sqlite-log.ts';
import { TEST_SPEC } from './gen.ts';

describe('the incremental join against the batch oracle', () => {
  const t = tempProject();
  let project: Project;
  let duck: DuckSession;
  let summary: RunSummary;
  let dispositions: Map<string, string>;
  let corrections: string[];

  beforeAll(async () => {
    project = await Project.open(t.dir);
    duck = await project.duck();
    const logs = { predictions: new SqliteTestLog(join(t.dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(t.dir, 'logs.db'), 'events') };
    const files = await fillLogs({ predictions: 20_000, seed: 7 }, logs, t.dir, TEST_SPEC);
    await runOracle(duck, TEST_SPEC, files);
    const db = openFeedbackDb(project);
    const fj = await FeedbackJoin.open(db, TEST_SPEC);
    // small batches: many batch boundaries, none of which may change a decision
    summary = await runFeedback(project, fj, logs, { once: true, batchRecords: 1500 });
    dispositions = new Map((await db.all<{ event_id: string; disposition: string }>('SELECT event_id, disposition FROM fb_events')).map((r) => [r.event_id, r.disposition]));
    corrections = (await db.all<{ event_id: string }>('SELECT event_id FROM fb_corrections ORDER BY event_id')).map((r) => r.event_id);
    await db.close();
  });
  afterAll(async () => {
    await project.close();
    t.cleanup();
  });

  it('publishes exactly the oracle examples', async () => {
    await loadPublished(project, duck);
    const d = await diffExamples(duck);
    expect(d.onlyA).toEqual([]);
    expect(d.onlyB).toEqual([]);
    expect(d.a).toBe(d.b);
    expect(d.a).toBeGreaterThan(15_000);
    expect(summary.counts.positives! + summary.counts.negatives!).toBe(d.a);
  });

  it('gives every first-seen event the disposition the oracle gives it', async () => {
    const oracle = await duck.all<{ event_id: string; disposition: string }>('SELECT event_id, disposition FROM oracle_events');
    expect(dispositions.size).toBe(oracle.length);
    const wrong = oracle.filter((o) => dispositions.get(o.event_id) !== o.disposition).slice(0, 5);
    expect(wrong).toEqual([]);
    const kinds = new Set(oracle.map((o) => o.disposition));
    for (const k of ['decided', 'late', 'after_decision', 'outside_window', 'no_rule', 'unmatched']) expect(kinds.has(k), k).toBe(true);
  });

  it('writes a correction for exactly the late events that would have changed a label', async () => {
    const expected = await duck.all<{ event_id: string }>(
      `SELECT m.event_id FROM oracle_m m JOIN oracle_examples x ON x.prediction_id = m.prediction_id
       WHERE m.matched AND m.in_window AND m.is_late AND m.rlabel <> x.label ORDER BY m.event_id`,
    );
    expect(corrections.length).toBeGreaterThan(0);
    expect(corrections).toEqual(expected.map((r) => r.event_id));
  });

  it('counts every event once: first-seen, duplicate or invalid', async () => {
    const c = summary.counts;
    const [{ n }] = (await duck.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM events')) as [{ n: number }];
    expect(c.events! + c.duplicates!).toBe(n);
    expect(c.events_invalid).toBeGreaterThan(0);
    expect(c.duplicates).toBeGreaterThan(0);
  });
});
