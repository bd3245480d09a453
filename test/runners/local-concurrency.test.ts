// The local runner runs a stage's map tasks side by side when the stage asks for it
// (`mapConcurrency`), each on its own DuckDB connection: the tasks below only finish if both run
// at the same time, and both create a temp table of the same name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlan, runIdFor } from '../../src/engine/execute.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { mapTaskId, type PlanSpec } from '../../src/engine/plan.ts';
import { rowsOf, STAGES, testEnv, type TestEnv } from './harness.ts';

describe('the local runner with a stage that allows two map tasks at once', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await testEnv('local-conc');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('runs them side by side on separate connections and commits both parts', async () => {
    const config = { sleepMs: 0, markers: env.dir };
    const inputs = [{ rows: 4 }, { rows: 6 }];
    const plan: PlanSpec = {
      runId: runIdFor({ stage: 'test-overlap', dataset: 'pairs', parent: null, config, inputs }),
      stage: `module:${STAGES}#overlapStage`,
      dataset: 'pairs',
      parent: null,
      config,
      maps: inputs.map((input, i) => ({ id: mapTaskId(i), input })),
    };
    const seen: string[] = [];
    const m = await executePlan(env.project, plan, new LocalRunner(await env.project.duck(), env.project.catalog), (p) => {
      if (p.task) seen.push(`${p.phase}:${p.task}`);
    });
    expect(m.rows).toBe(10);
    const rows = await rowsOf(env.project, 'pairs');
    expect(rows.map((r) => r._id).sort()).toEqual([...[0, 1, 2, 3].map((i) => `m00000:${i}`), ...[0, 1, 2, 3, 4, 5].map((i) => `m00001:${i}`)].sort());
    expect(seen.sort()).toEqual(['map:m00000', 'map:m00001']);
    // the runner's own session still works after its extra connection closed
    expect(await (await env.project.duck()).all('SELECT 42 AS x')).toEqual([{ x: 42 }]);
  });
});
