// Crash injection: a child `feedback run` is SIGKILLed at random moments (startup, mid-batch,
// mid-publish) at least 20 times while the logs grow; after a final uninterrupted run, the published
// dataset equals the oracle, every version is whole, each event has one disposition, each key one
// example, and the incremental metrics counted each example exactly once.
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { verifyManifest } from '../../src/core/dataset.ts';
import { Project } from '../../src/core/project.ts';
import { openFeedbackDb } from '../../src/feedback/state.ts';
import { compareState, expectOracleOutput, OracleFeed, runChild, runOracle, tempProject } from './harness.ts';
import { generate, TEST_SPEC } from './gen.ts';
import { SqliteTestLog } from './sqlite-log.ts';

const KILLS = 20;
const t = tempProject();
afterAll(() => t.cleanup());

const child = (killAfterReadyMs: number | null) => runChild(t.dir, killAfterReadyMs);

it(`gives the oracle's output after ${KILLS} SIGKILLs at random points`, async () => {
  const logs = { predictions: new SqliteTestLog(join(t.dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(t.dir, 'logs.db'), 'events') };
  const entries = [...generate({ predictions: 9000, seed: 11, entry: 200, shadows: 0.05 })];
  const feed = new OracleFeed(t.dir, TEST_SPEC);
  let kills = 0;
  let rand = 12345;
  const next = () => ((rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; kills < KILLS && round < 60; round++) {
    const share = Math.ceil(entries.length / KILLS);
    await feed.append(entries.slice(round * share, (round + 1) * share), logs);
    // kills land while a share is folded; rounds after the last share (no new data) kill at once
    const r = await child(Math.floor(next() * (round < KILLS ? 300 : 30)));
    if (r.killed) kills++;
  }
  expect(kills).toBeGreaterThanOrEqual(KILLS);
  await feed.append(entries.slice(KILLS * Math.ceil(entries.length / KILLS)), logs);
  const last = await child(null);
  expect(last.out).toContain('"done":true');

  const project = await Project.open(t.dir);
  try {
    const duck = await project.duck();
    await runOracle(duck, TEST_SPEC, await feed.close());
    const { head, examples } = await expectOracleOutput(project, duck);
    // every version whole; the parts hold each prediction once
    for (let v = 1; v <= head; v++) await verifyManifest(project.dataDir, await project.catalog.manifest('feedback', v));
    const [dup] = await duck.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM (SELECT prediction_id FROM published GROUP BY 1 HAVING count(*) > 1)');
    expect(dup!.n).toBe(0);
    const db = openFeedbackDb(project);
    try {
      const st = await compareState(duck, db);
      expect(st).toEqual({ wrong: [], events: [st.events[1], st.events[1]], metricsExamples: examples });
    } finally {
      await db.close();
    }
  } finally {
    await project.close();
  }
}, 300_000);
