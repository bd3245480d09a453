// What the runner tests share: a project on its own PostgreSQL schema and Redis queue, `sluice
// worker` processes started (and killed, stopped, resumed) as real OS processes, and readers for
// the rows of a version and the jobs of a run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import pg from 'pg';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { redisConnection } from '../../src/engine/runners/bullmq.ts';

export const REDIS = process.env.SLUICE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
export const PG = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STAGES = join(ROOT, 'test', 'runners', 'stages.ts');
export const SLUICE = join(ROOT, 'bin', 'sluice.js');

export interface TestEnv {
  dir: string;
  schema: string;
  queue: string;
  project: Project;
  cleanup(): Promise<void>;
}

/** A fresh project folder whose catalog is a new PostgreSQL schema, plus a queue name of its own. */
export async function testEnv(label: string): Promise<TestEnv> {
  const id = randomBytes(5).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  const schema = `t_${id}`;
  const queue = `sluice-test-${label}-${id}`;
  writeFileSync(
    join(dir, 'sluice.yaml'),
    [`name: ${label}`, 'data: .sluice/data', 'catalog:', `  postgres: ${PG}`, `  schema: ${schema}`, 'threads: 1', 'runner: local', ''].join('\n'),
  );
  const project = await Project.open(dir);
  return {
    dir,
    schema,
    queue,
    project,
    async cleanup() {
      await project.close();
      await withQueue(queue, (q) => q.obliterate({ force: true }).catch(() => {}));
      const c = new pg.Client({ connectionString: PG });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WorkerProcess {
  pid: number;
  proc: ChildProcess;
  stderr(): string;
  /** signals the worker's whole process group (the worker and its sandboxed task processes) */
  signal(sig: NodeJS.Signals): void;
  exited: Promise<void>;
}

/** Starts `n` `sluice worker` processes on `queue`, each the leader of its own process group. */
export async function startWorkers(n: number, queue: string, o: { lockMs: number; dir: string; inProcess?: boolean }): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: n }, (_, i) => {
    const ready = join(o.dir, `worker-${i}-${randomBytes(3).toString('hex')}.ready`);
    const args = [SLUICE, '--threads', '1', '-q', 'worker', '--redis', REDIS, '--pg', PG, '--queue', queue, '--lock-ms', String(o.lockMs)];
    if (o.inProcess) args.push('--in-process');
    const proc = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SLUICE_WORKER_READY_FILE: ready, SLUICE_STAGE_PATH: join(ROOT, 'test') },
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    const w: WorkerProcess = {
      pid: proc.pid!,
      proc,
      stderr: () => err,
      signal: (sig) => {
        try {
          process.kill(-proc.pid!, sig);
        } catch {
          /* already gone */
        }
      },
      exited,
    };
    return { w, ready };
  });
  const deadline = Date.now() + 60_000;
  for (const { w, ready } of workers) {
    while (!existsSync(ready)) {
      if (w.proc.exitCode !== null) throw new Error(`worker ${w.pid} exited with ${w.proc.exitCode}: ${w.stderr()}`);
      if (Date.now() > deadline) throw new Error(`worker ${w.pid} not ready after 60 s: ${w.stderr()}`);
      await sleep(50);
    }
  }
  return workers.map((x) => x.w);
}

/** Kills every worker's process group and waits for the workers to exit. */
export async function killWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) {
    w.signal('SIGCONT');
    w.signal('SIGKILL');
  }
  await Promise.all(workers.map((w) => w.exited));
}

/** The rows of a version ordered by `_id`, as JSON-friendly objects. */
export async function rowsOf(project: Project, dataset: string, version?: number): Promise<Record<string, unknown>[]> {
  const v = version ?? (await project.catalog.head(dataset));
  if (v === null) throw new Error(`${dataset} has no version`);
  const m = await project.catalog.manifest(dataset, v);
  const duck = await project.duck();
  return duck.all(`SELECT * FROM (${scanSql(project.dataDir, m)}) ORDER BY _id`);
}

export interface JobInfo {
  id: string;
  name: string;
  state: string;
  data: string;
}

/** Every job of `runId` in `queue`, whatever its state. */
export async function jobsOfRun(queue: string, runId: string): Promise<JobInfo[]> {
  return withQueue(queue, async (q) => {
    const jobs = await q.getJobs(['completed', 'failed', 'active', 'wait', 'waiting-children', 'delayed', 'prioritized'], 0, -1);
    const mine = jobs.filter((j) => j?.id?.startsWith(`${runId}.`));
    return Promise.all(mine.map(async (j) => ({ id: j.id!, name: j.name, state: await j.getState(), data: JSON.stringify(j.data) })));
  });
}

/** Runs `fn` with a Queue on REDIS, then closes it and its connection. */
export async function withQueue<T>(name: string, fn: (q: Queue) => Promise<T>): Promise<T> {
  const connection = redisConnection(REDIS);
  const q = new Queue(name, { connection });
  try {
    return await fn(q);
  } finally {
    await q.close();
    connection.disconnect();
  }
}

/** Marker files the test stages leave: `<task>.<attempt>.<start|done>` → { pid, ppid, outDir }. */
export function markers(dir: string): { task: string; attempt: string; what: string; pid: number; ppid: number; outDir: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((f) => {
    const [task, attempt, what] = f.split('.') as [string, string, string];
    return { task, attempt, what, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; ppid: number; outDir: string }) };
  });
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
