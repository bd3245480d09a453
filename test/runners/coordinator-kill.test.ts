// A coordinator (`sluice dedup --runner redis://…`) SIGKILLed at random points, ten times: each
// rerun finds the jobs already enqueued (one per task, never two) and the final result equals a
// clean run's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { importFiles } from '../../src/io/import.ts';
import { dedupByKey } from '../../src/engine/dedup.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { jobsOfRun, killWorkers, REDIS, rowsOf, SLUICE, startWorkers, testEnv, type TestEnv, type WorkerProcess } from './harness.ts';
import { latestPerUser, writeClicks } from './fixtures.ts';

const PARTITIONS = 6;

function dedupCommand(env: TestEnv, out: string): string[] {
  return [SLUICE, '--project', env.dir, '--threads', '1', '-q', '--json', 'dedup', 'clicks', '--key', 'user_id', '--latest', 'ts', '--out', out, '--partitions', String(PARTITIONS), '--runner', REDIS, '--queue', env.queue];
}

function runCli(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
  return new Promise((res) =>
    p.once('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    }),
  );
}

describe('a coordinator killed at random points', () => {
  let env: TestEnv;
  let workers: WorkerProcess[];

  beforeAll(async () => {
    env = await testEnv('coord');
    workers = await startWorkers(3, env.queue, { lockMs: 5000, dir: env.dir });
  });

  afterAll(async () => {
    await killWorkers(workers ?? []);
    await env?.cleanup();
  });

  it('reruns to the same result as a clean run, with exactly one job per task', async () => {
    const { paths, clicks } = writeClicks(env.dir, 6, 20_000, 97);
    const local = new LocalRunner(await env.project.duck(), env.project.catalog);
    await importFiles(env.project, { name: 'clicks', files: paths }, local);
    const ref = await dedupByKey(env.project, { input: 'clicks', output: 'reference', key: ['user_id'], latest: 'ts', partitions: PARTITIONS }, local);
    expect(ref.rows).toBe(97);
    expect(ref.extra).toEqual({ dropped: 120_000 - 97 });
    const expected = latestPerUser(clicks);
    const refRows = await rowsOf(env.project, 'reference');
    expect(refRows.map((r) => r.item)).toEqual(refRows.map((r) => expected.get(r.user_id as string)!.item));

    // A clean CLI run warms the workers' task processes; a second one gives the length of a
    // whole warm run, to place the kills in.
    const warm = await runCli(dedupCommand(env, 'warm'));
    expect(warm.code).toBe(0);
    const probe = await runCli(dedupCommand(env, 'probe'));
    expect(probe.stderr).toBe('');
    expect(probe.code).toBe(0);
    expect(JSON.parse(probe.stdout)).toEqual({ dataset: 'probe', version: 1, rows: 97, dropped: 120_000 - 97 });

    let killedBeforeCommit = 0;
    for (let i = 0; i < 10; i++) {
      const delay = Math.round(probe.ms * (0.2 + 0.75 * Math.random()));
      const r = await runCli(dedupCommand(env, 'latest'), delay);
      if (r.signal === 'SIGKILL' && (await env.project.catalog.head('latest')) === null) killedBeforeCommit++;
      await sleep(50);
    }
    const final = await runCli(dedupCommand(env, 'latest'));
    expect(final.stderr).toBe('');
    expect(final.code).toBe(0);
    console.log(`coordinator kills that landed before the commit: ${killedBeforeCommit} of 10 (warm run ${probe.ms} ms, first ${warm.ms} ms)`);

    const head = await env.project.catalog.head('latest');
    expect(head).not.toBeNull();
    expect(await rowsOf(env.project, 'latest')).toEqual(refRows);
    // Every version of `latest` (a kill after a commit makes the next command a new run) holds the same rows.
    for (const v of await env.project.catalog.versions('latest')) expect(await rowsOf(env.project, 'latest', v.version)).toEqual(refRows);
    const runs = await env.project.catalog.db.all<{ run_id: string; status: string }>('SELECT run_id, status FROM runs WHERE dataset = ?', ['latest']);
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      const jobs = await jobsOfRun(env.queue, run.run_id);
      const tasks = jobs.filter((j) => j.name !== 'barrier').map((j) => j.id.split('.').pop()!);
      if (run.status === 'committed') {
        expect(tasks.sort()).toEqual([...Array.from({ length: 6 }, (_, k) => `m0000${k}`), ...Array.from({ length: PARTITIONS }, (_, k) => `r0000${k}`)]);
        expect(jobs.filter((j) => j.name === 'barrier')).toHaveLength(2);
        expect(jobs.every((j) => j.state === 'completed')).toBe(true);
      }
      expect(new Set(tasks).size).toBe(tasks.length);
    }
    expect(runs.filter((r) => r.status === 'committed')).toHaveLength((await env.project.catalog.versions('latest')).length);
  });
});
