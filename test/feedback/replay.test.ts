// The join keeps open predictions in memory and rebuilds them from the predictions log: after a
// restart (a new join over the same state), and after a step whose transaction failed part-way (its
// memory may hold the rolled-back batch). Either way the published examples equal the oracle's.
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { FeedbackJoin } from '../../src/feedback/join.ts';
import { accumulateMetrics, ensureMetricsSchema } from '../../src/feedback/metrics/accumulate.ts';
import { runFeedback } from '../../src/feedback/run.ts';
import { openFeedbackDb } from '../../src/feedback/state.ts';
import { expectOracleOutput, fillLogs, runOracle, tempProject } from './harness.ts';
import { TEST_SPEC } from './gen.ts';
import { SqliteTestLog } from './sqlite-log.ts';

const t = tempProject();
afterAll(() => t.cleanup());

it('rebuilds open predictions after a restart and after a failed step, and still gives the oracle output', async () => {
  const project = await Project.open(t.dir);
  try {
    const logs = { predictions: new SqliteTestLog(join(t.dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(t.dir, 'logs.db'), 'events') };
    const files = await fillLogs({ predictions: 8000, seed: 5, entry: 100 }, logs, t.dir, TEST_SPEC);
    const duck = await project.duck();
    await runOracle(duck, TEST_SPEC, files);
    const db = openFeedbackDb(project);
    await ensureMetricsSchema(db);
    let calls = 0;
    let failures = 0;
    // every 5th emit fails after the batch's SQL ran (the transaction rolls back, memory is dropped)
    const flaky = async (...a: Parameters<typeof accumulateMetrics>) => {
      if (++calls % 5 === 0) {
        failures++;
        throw new Error('injected failure');
      }
      return accumulateMetrics(...a);
    };
    let restarts = 0;
    for (let round = 0; round < 200; round++) {
      // a new join each round: a restart, which replays the open window of the predictions log
      restarts++;
      const fj = await FeedbackJoin.open(db, TEST_SPEC, flaky);
      const stop = new AbortController();
      let batches = 0;
      try {
        const s = await runFeedback(project, fj, logs, { once: true, batchRecords: 250, onBatch: () => ++batches === 2 && stop.abort(), signal: stop.signal });
        if (s.lag.predictions === 0 && s.lag.events === 0) break;
      } catch (e) {
        expect((e as Error).message).toBe('injected failure');
        // the same join goes on after the failure: its next step must rebuild what it dropped
        const s = await runFeedback(project, fj, logs, { once: true, batchRecords: 250, onBatch: () => ++batches >= 4 && stop.abort(), signal: stop.signal }).catch(() => null);
        if (s && s.lag.predictions === 0 && s.lag.events === 0) break;
      }
    }
    expect(failures).toBeGreaterThan(2);
    expect(restarts).toBeGreaterThan(5);
    // finish without failures
    const fj = await FeedbackJoin.open(db, TEST_SPEC, accumulateMetrics);
    await runFeedback(project, fj, logs, { once: true, batchRecords: 250 });
    await expectOracleOutput(project, duck, db);
    await db.close();
  } finally {
    await project.close();
  }
}, 120_000);
