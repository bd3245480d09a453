// The runner conformance suite: import and dedup-by-key give the same rows by `_id`, the same
// counts, the same progress events and the same failure behaviour on the local runner and on the
// BullMQ runner with three `sluice worker` processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { executePlan, makeRunner, runIdFor } from '../../src/engine/execute.ts';
import { importFiles } from '../../src/io/import.ts';
import { dedupByKey } from '../../src/engine/dedup.ts';
import { BullmqRunner } from '../../src/engine/runners/bullmq.ts';
import { mapTaskId, type PlanProgress, type PlanSpec, type Runner } from '../../src/engine/plan.ts';
import { UserCodeError } from '../../src/core/errors.ts';
import { jobsOfRun, killWorkers, markers, rowsOf, STAGES, startWorkers, testEnv, type TestEnv, type WorkerProcess } from './harness.ts';
import { latestPerUser, writeClicks, type Click } from './fixtures.ts';

const FILES = 3;
const ROWS_PER_FILE = 30;
const USERS = 25;
const results = new Map<string, { imported: Record<string, unknown>[]; deduped: Record<string, unknown>[] }>();

describe.each(['local', 'bullmq'] as const)('the %s runner', (kind) => {
  let env: TestEnv;
  let workers: WorkerProcess[] = [];
  let runner: Runner;
  let clicks: Click[];
  let paths: string[];

  beforeAll(async () => {
    env = await testEnv(`conf-${kind}`);
    ({ clicks, paths } = writeClicks(env.dir, FILES, ROWS_PER_FILE, USERS));
    if (kind === 'bullmq') workers = await startWorkers(3, env.queue, { lockMs: 5000, dir: env.dir });
    runner = await makeRunner(env.project, kind === 'local' ? 'local' : 'redis://127.0.0.1:6379', { queue: env.queue });
    results.set(kind, { imported: [], deduped: [] });
  });

  afterAll(async () => {
    await runner?.close?.();
    await killWorkers(workers);
    await env?.cleanup();
  });

  it('imports three files into one version with every row of every file, in file order', async () => {
    const events: PlanProgress[] = [];
    const m = await importFiles(env.project, { name: 'clicks', files: paths }, runner, (p) => events.push(p));
    expect(m.rows).toBe(FILES * ROWS_PER_FILE);
    expect(m.parts).toHaveLength(FILES);
    const rows = await rowsOf(env.project, 'clicks');
    expect(rows).toHaveLength(90);
    const byItem = new Map(rows.map((r) => [r.item as string, r]));
    for (const c of clicks) expect([byItem.get(c.item)?.user_id, Number(byItem.get(c.item)?.ts)]).toEqual([c.user_id, c.ts]);
    expect(new Set(rows.map((r) => r._id)).size).toBe(90);
    expect(events.at(-1)).toEqual({ phase: 'commit', done: 1, total: 1 });
    expect(events.filter((e) => e.phase === 'map').at(-1)).toMatchObject({ done: FILES, total: FILES });
    results.get(kind)!.imported = rows;
  });

  it('dedups by user across all files, keeping each user\'s latest click: 25 kept, 65 dropped', async () => {
    const events: PlanProgress[] = [];
    const m = await dedupByKey(env.project, { input: 'clicks', output: 'latest', key: ['user_id'], latest: 'ts', partitions: 4 }, runner, (p) => events.push(p));
    expect(m.rows).toBe(25);
    expect(m.extra).toEqual({ dropped: 65 });
    const rows = await rowsOf(env.project, 'latest');
    const expected = latestPerUser(clicks);
    expect(rows.map((r) => r.user_id).sort()).toEqual([...expected.keys()].sort());
    for (const r of rows) expect(r.item).toBe(expected.get(r.user_id as string)!.item);
    // u03's rows are spread over all three files; its latest sits in the file the fixture says.
    const u03 = clicks.filter((c) => c.user_id === 'u03');
    expect(new Set(u03.map((c) => c.file)).size).toBe(3);
    const kept = rows.find((r) => r.user_id === 'u03')!;
    expect([kept.item, Number(kept.ts)]).toEqual([expected.get('u03')!.item, Math.max(...u03.map((c) => c.ts))]);
    results.get(kind)!.deduped = rows;

    // Progress: every phase in order, per task, each reaching its total.
    expect([...new Set(events.map((e) => e.phase))]).toEqual(['map', 'reduce', 'commit']);
    for (const [phase, total] of [['map', 3], ['reduce', 4], ['commit', 1]] as const) {
      const mine = events.filter((e) => e.phase === phase);
      expect(mine.every((e) => e.total === total)).toBe(true);
      expect(mine[0]!.done).toBe(0);
      expect(mine.at(-1)!.done).toBe(total);
      expect(mine.map((e) => e.done)).toEqual([...mine.map((e) => e.done)].sort((a, b) => a - b));
    }
    if (kind === 'local') expect(events.filter((e) => e.phase === 'map' && e.task).map((e) => e.task)).toEqual([mapTaskId(0), mapTaskId(1), mapTaskId(2)]);
  });

  it('returns the committed version when the same plan runs again, without new jobs or versions', async () => {
    const m = await env.project.catalog.manifest('latest', 1);
    const plan = JSON.parse((await env.project.catalog.run(m.run_id!))!.plan) as PlanSpec;
    const again = await executePlan(env.project, plan, runner);
    expect(again).toEqual(m);
    expect((await env.project.catalog.versions('latest')).length).toBe(1);
    if (kind === 'bullmq') {
      const jobs = await jobsOfRun(env.queue, again.run_id!);
      // 3 maps + 4 reduces + 2 barriers, each once; job data names the run and the task, not the plan.
      expect(jobs.map((j) => j.name).sort()).toEqual(['barrier', 'barrier', 'map', 'map', 'map', 'reduce', 'reduce', 'reduce', 'reduce']);
      expect(jobs.every((j) => j.state === 'completed')).toBe(true);
      for (const j of jobs) {
        expect(j.data.length).toBeLessThan(400);
        expect(j.data).not.toContain('clicks-0.csv');
      }
    }
  });

  it('stops a task that always throws after maxAttempts, shows the stage file\'s line, and commits nothing; a rerun retries it', async () => {
    const markerDir = join(env.dir, 'markers-fail');
    mkdirSync(markerDir, { recursive: true });
    const config = { markers: markerDir };
    const plan: PlanSpec = {
      runId: runIdFor({ stage: 'test-failing', dataset: 'broken', parent: null, config, inputs: [1] }),
      stage: `module:${STAGES}#failingStage`,
      dataset: 'broken',
      parent: null,
      config,
      maps: [{ id: mapTaskId(0), input: 1 }],
      maxAttempts: 2,
    };
    const line = readFileSync(STAGES, 'utf8').split('\n').findIndex((l) => l.includes('FAILING-LINE')) + 1;
    const err = await executePlan(env.project, plan, runner).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserCodeError);
    const e = err as UserCodeError;
    expect(e.message).toContain(`task m00000 of run ${plan.runId} failed after 2 attempt(s)`);
    expect(e.message).toContain('row 7 of task m00000 has no price');
    expect(e.userStack).toContain(`${STAGES}:${line}:`);
    expect(markers(markerDir).filter((m) => m.what === 'start')).toHaveLength(2);
    expect(await env.project.catalog.head('broken')).toBeNull();
    expect((await env.project.catalog.run(plan.runId))?.status).toBe('failed');

    // The failed run can run again: its failed phase is removed and enqueued once more.
    await expect(executePlan(env.project, plan, runner)).rejects.toThrow('failed after 2 attempt(s)');
    expect(markers(markerDir).filter((m) => m.what === 'start')).toHaveLength(4);
    expect((await env.project.catalog.run(plan.runId))?.status).toBe('failed');
    if (kind === 'bullmq') {
      const jobs = await jobsOfRun(env.queue, plan.runId);
      expect(jobs.map((j) => `${j.name}:${j.state}`).sort()).toEqual(['barrier:failed', 'map:failed']);
      expect(jobs.find((j) => j.name === 'map')!.id).toBe(BullmqRunner.jobId(plan, { dataDir: env.project.dataDir, catalogSpec: env.project.catalogSpec, threads: 1 }, 'm00000'));
    }
  });
});

describe('both runners', () => {
  it('give the same rows by _id for import and dedup', () => {
    const local = results.get('local')!;
    const bull = results.get('bullmq')!;
    expect(local.imported).toHaveLength(90);
    expect(bull.imported).toEqual(local.imported);
    expect(local.deduped).toHaveLength(25);
    expect(bull.deduped).toEqual(local.deduped);
  });
});
