// Workers that die or freeze mid-task: the task is retried elsewhere and the committed version is
// exactly what a clean run commits; a frozen worker that wakes up changes nothing committed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { executePlan, makeRunner, runIdFor } from '../../src/engine/execute.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { mapTaskId, type PlanSpec, type Runner } from '../../src/engine/plan.ts';
import { safeJoin } from '../../src/core/names.ts';
import { jobsOfRun, killWorkers, markers, rowsOf, STAGES, startWorkers, testEnv, waitFor, type TestEnv, type WorkerProcess } from './harness.ts';

const LOCK_MS = 1500;

function slowPlan(dataset: string, markerDir: string, tasks: number, sleepMs: number): PlanSpec {
  const config = { sleepMs, markers: markerDir };
  const maps = Array.from({ length: tasks }, (_, i) => ({ id: mapTaskId(i), input: { rows: 500 + i } }));
  return {
    runId: runIdFor({ stage: 'test-slow', dataset, parent: null, config, inputs: maps }),
    stage: `module:${STAGES}#slowStage`,
    dataset,
    parent: null,
    config,
    maps,
  };
}

describe('a BullMQ worker that fails mid-task', () => {
  let env: TestEnv;
  let workers: WorkerProcess[];
  let runner: Runner;

  beforeEach(async () => {
    env = await testEnv('workers');
    workers = await startWorkers(3, env.queue, { lockMs: LOCK_MS, dir: env.dir });
    runner = await makeRunner(env.project, 'redis://127.0.0.1:6379', { queue: env.queue });
  });

  afterEach(async () => {
    await runner.close?.();
    await killWorkers(workers);
    await env.cleanup();
  });

  /** The same plan run cleanly in-process, into another dataset: the reference rows. */
  async function cleanRows(tasks: number): Promise<Record<string, unknown>[]> {
    const plan = slowPlan('clean', join(env.dir, 'markers-clean'), tasks, 0);
    await executePlan(env.project, plan, new LocalRunner(await env.project.duck(), env.project.catalog));
    return rowsOf(env.project, 'clean');
  }

  it('SIGKILLed mid-task: the job stalls, another worker retries it, and the rows equal a clean run', async () => {
    const markerDir = join(env.dir, 'markers');
    const plan = slowPlan('slow', markerDir, 3, 2500);
    const running = executePlan(env.project, plan, runner);
    const first = await waitFor('m00000 to start', () => markers(markerDir).find((m) => m.task === 'm00000' && m.what === 'start'));
    const victim = workers.find((w) => w.pid === first.ppid);
    expect(victim).toBeDefined();
    victim!.signal('SIGKILL');
    await victim!.exited;

    const m = await running;
    const starts = markers(markerDir).filter((x) => x.task === 'm00000' && x.what === 'start');
    expect(starts).toHaveLength(2);
    expect(starts.map((s) => s.ppid)).toContain(first.ppid);
    const retry = starts.find((s) => s.ppid !== first.ppid)!;
    expect(workers.map((w) => w.pid)).toContain(retry.ppid);
    // The killed attempt never finished; the version holds the retry's part.
    expect(markers(markerDir).filter((x) => x.task === 'm00000' && x.what === 'done').map((x) => x.attempt)).toEqual([retry.attempt]);
    expect(m.parts[0]!.path).toBe(`${retry.outDir}/part-0.parquet`);
    expect(m.rows).toBe(500 + 501 + 502);
    expect(await rowsOf(env.project, 'slow')).toEqual(await cleanRows(3));
    const jobs = await jobsOfRun(env.queue, plan.runId);
    expect(jobs.map((j) => `${j.name}:${j.state}`).sort()).toEqual(['barrier:completed', 'map:completed', 'map:completed', 'map:completed']);
  });

  it('SIGSTOPped past its lock: another worker finishes, the run commits, and after SIGCONT the version is unchanged', async () => {
    const markerDir = join(env.dir, 'markers');
    const plan = slowPlan('slow', markerDir, 1, 3000);
    const running = executePlan(env.project, plan, runner);
    const first = await waitFor('m00000 to start', () => markers(markerDir).find((m) => m.task === 'm00000' && m.what === 'start'));
    const zombie = workers.find((w) => w.pid === first.ppid)!;
    zombie.signal('SIGSTOP');

    const committed = await running;
    const winner = markers(markerDir).find((x) => x.what === 'done')!;
    expect(winner.ppid).not.toBe(first.ppid);
    expect(committed.parts.map((p) => p.path)).toEqual([`${winner.outDir}/part-0.parquet`]);
    const rowsBefore = await rowsOf(env.project, 'slow');

    zombie.signal('SIGCONT');
    // The zombie finishes its attempt and writes its part into its own folder.
    const zombieDone = await waitFor('the zombie to finish', () => markers(markerDir).find((x) => x.attempt === first.attempt && x.what === 'done'), 30_000);
    expect(existsSync(safeJoin(env.project.dataDir, `${zombieDone.outDir}/part-0.parquet`))).toBe(true);
    await new Promise((r) => setTimeout(r, 1000)); // let it try to record and complete the job

    expect(await env.project.catalog.head('slow')).toBe(1);
    expect(await env.project.catalog.manifest('slow', 1)).toEqual(committed);
    expect((await env.project.catalog.taskResult(plan.runId, 'm00000'))?.attempt_id).toBe(winner.attempt);
    const referenced = [...(await env.project.catalog.referencedPaths())];
    expect(referenced.filter((p) => p.startsWith(`${first.outDir}/`))).toEqual([]);
    expect(await rowsOf(env.project, 'slow')).toEqual(rowsBefore);
    expect(rowsBefore).toEqual(await cleanRows(1));
    // Rerunning the plan returns the same version; the task's job stays completed once.
    expect(await executePlan(env.project, plan, runner)).toEqual(committed);
    const jobs = await jobsOfRun(env.queue, plan.runId);
    expect(jobs.map((j) => `${j.name}:${j.state}`).sort()).toEqual(['barrier:completed', 'map:completed']);
  });
});
