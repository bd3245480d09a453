// Benchmark `runners`: (a) import + dedup of the 2M-row impressions CSV (split in 4 files) on the
// local runner vs the BullMQ runner with one `sluice worker`, interleaved in the same run;
// (b) tiny-task throughput: 50 no-op `sluice worker` processes behind one coordinator and Redis,
// beside BullMQ's own raw job throughput (Queue.addBulk + an empty Worker) measured in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { executePlan, makeRunner, runIdFor } from '../src/engine/execute.ts';
import { dedupByKey } from '../src/engine/dedup.ts';
import { mapTaskId, type PlanSpec, type Runner } from '../src/engine/plan.ts';
import { importFiles } from '../src/io/import.ts';
import { redisConnection } from '../src/engine/runners/bullmq.ts';
import { impressionsCsv } from './gen.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

const REDIS = process.env.SLUICE_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const PG = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const SLUICE = resolve('bin/sluice.js');
const FILES = 4;

/** The impressions CSV split into `FILES` files of consecutive rows (cached beside the source). */
async function splitCsv(dir: string, rows: number): Promise<string[]> {
  const src = await impressionsCsv(join(dir, '..', 'import'), rows);
  const paths = Array.from({ length: FILES }, (_, i) => join(dir, `impressions-${rows}-part${i}.csv`));
  if (paths.every((p) => existsSync(p))) return paths;
  const duck = await DuckSession.open();
  try {
    const per = Math.ceil(rows / FILES);
    for (const [i, p] of paths.entries()) {
      // Written under a temp name and renamed: an interrupted run never leaves a short file.
      await duck.run(`COPY (FROM read_csv(${lit(src.path)}) WHERE impression_id >= ${i * per} AND impression_id < ${(i + 1) * per} ORDER BY impression_id) TO ${lit(p + '.tmp')} (FORMAT csv, HEADER)`);
      renameSync(p + '.tmp', p);
    }
  } finally {
    duck.close();
  }
  return paths;
}

interface Workers {
  procs: ChildProcess[];
  startSeconds: number;
  rssMiB(): number;
}

/** Starts `n` `sluice worker` processes on `queue` and waits until every one is ready. */
async function startWorkers(dir: string, n: number, queue: string, globals: string[], options: string[] = []): Promise<Workers> {
  const t0 = performance.now();
  const readies: string[] = [];
  const procs = Array.from({ length: n }, (_, i) => {
    const ready = join(dir, `ready-${queue}-${i}`);
    rmSync(ready, { force: true });
    readies.push(ready);
    return spawn(process.execPath, [SLUICE, '-q', ...globals, 'worker', '--redis', REDIS, '--pg', PG, '--queue', queue, ...options], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, SLUICE_WORKER_READY_FILE: ready },
    });
  });
  while (!readies.every((r) => existsSync(r))) {
    if (procs.some((p) => p.exitCode !== null)) throw new Error('a worker exited while starting');
    await sleep(50);
  }
  return {
    procs,
    startSeconds: (performance.now() - t0) / 1000,
    // Resident memory of the workers and their sandboxed children, from /proc.
    rssMiB: () => {
      let kib = 0;
      const pids = new Set(procs.map((p) => p.pid!));
      for (const pid of pids) kib += rssKiB(pid);
      for (const pid of childrenOf(pids)) kib += rssKiB(pid);
      return Math.round(kib / 1024);
    },
  };
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function childrenOf(pids: Set<number>): number[] {
  const out: number[] = [];
  for (const pid of pids) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** SIGTERM (graceful), then SIGKILL whatever is still up after 10 s. */
async function stopWorkers(w: Workers): Promise<void> {
  await Promise.all(
    w.procs.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
          p.once('exit', () => (clearTimeout(t), res()));
          p.kill('SIGTERM');
        }),
    ),
  );
}

/** A project on a fresh PostgreSQL schema (workers share the catalog). */
async function pgProject(dir: string, label: string): Promise<{ project: Project; drop(): Promise<void> }> {
  const schema = `bench_${label}_${randomBytes(4).toString('hex')}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sluice.yaml'), `name: bench\ncatalog:\n  postgres: ${PG}\n  schema: ${schema}\nrunner: local\n`);
  const project = await Project.open(dir);
  return {
    project,
    async drop() {
      await project.close();
      const c = new pg.Client({ connectionString: PG });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

async function importAndDedup(project: Project, runner: Runner, name: string, files: string[], rows: number): Promise<void> {
  const m = await importFiles(project, { name, files }, runner);
  if (m.rows !== rows) throw new Error(`import committed ${m.rows} rows, expected ${rows}`);
  const d = await dedupByKey(project, { input: name, output: `${name}-latest`, key: ['user_id'], latest: 'ts', partitions: 4 }, runner);
  if (d.rows <= 0 || d.rows > rows) throw new Error(`dedup kept ${d.rows} rows`);
}

async function overhead(ctx: Parameters<Bench['run']>[0]): Promise<Measure> {
  const rows = ctx.quick ? 200_000 : 2_000_000;
  const files = await splitCsv(ctx.dir, rows);
  const { project, drop } = await pgProject(join(ctx.dir, 'overhead'), 'ovh');
  const queue = `bench-ovh-${randomBytes(4).toString('hex')}`;
  const threads = String(project.budget.total);
  const workers = await startWorkers(ctx.dir, 1, queue, ['--threads', threads]);
  const local = await makeRunner(project, 'local');
  const bull = await makeRunner(project, REDIS, { queue });
  try {
    // Warm both sides (the worker's sandboxed child starts on its first job, as a long-lived worker's has).
    const warm = files.slice(0, 1);
    await importFiles(project, { name: 'warm-local', files: warm }, local);
    await importFiles(project, { name: 'warm-bullmq', files: warm }, bull);
    let peakRss = 0;
    const t = await timePair(
      ctx.repeats,
      (i) => importAndDedup(project, local, `local-${i}`, files, rows),
      async (i) => {
        const timer = setInterval(() => (peakRss = Math.max(peakRss, workers.rssMiB())), 200);
        try {
          await importAndDedup(project, bull, `bullmq-${i}`, files, rows);
        } finally {
          clearInterval(timer);
        }
      },
    );
    ctx.log(`local runs ${t.anchorRuns.map((s) => s.toFixed(2)).join(', ')} s; bullmq runs ${t.oursRuns.map((s) => s.toFixed(2)).join(', ')} s`);
    return {
      name: `import + dedup of a ${rows / 1e6}M-row CSV in ${FILES} files, BullMQ runner (1 worker) vs local`,
      unit: 'rows/s',
      ours: rows / t.ours,
      anchor: rows / t.anchor,
      anchorName: 'local runner',
      goal: 0.87,
      notes: { local_s: t.anchor.toFixed(2), bullmq_s: t.ours.toFixed(2), overhead_pct: ((t.ours / t.anchor - 1) * 100).toFixed(1), worker_peak_rss_mib: peakRss },
    };
  } finally {
    await bull.close?.();
    await stopWorkers(workers);
    await obliterate(queue);
    await drop();
  }
}

/** Bare BullMQ: add `n` jobs in bulk, one Worker with an empty processor; seconds until all completed. */
async function rawBullmq(n: number, concurrency: number): Promise<number> {
  const name = `bench-raw-${randomBytes(4).toString('hex')}`;
  const connection = redisConnection(REDIS);
  const queue = new Queue(name, { connection });
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const t0 = performance.now();
  const workerConnection = redisConnection(REDIS);
  const worker = new Worker(name, async () => {}, { connection: workerConnection, concurrency });
  worker.on('completed', () => ++done === n && finish());
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
  }
  await all;
  const s = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return s;
}

async function obliterate(name: string): Promise<void> {
  const connection = redisConnection(REDIS);
  const q = new Queue(name, { connection });
  await q.obliterate({ force: true }).catch(() => {});
  await q.close();
  connection.disconnect();
}

async function tinyTasks(ctx: Parameters<Bench['run']>[0]): Promise<Measure> {
  const nWorkers = ctx.quick ? 10 : 50;
  const tasks = ctx.quick ? 1000 : 5000;
  const { project, drop } = await pgProject(join(ctx.dir, 'tiny'), 'tiny');
  const queue = `bench-tiny-${randomBytes(4).toString('hex')}`;
  // In-process workers: 50 sandboxed ones would be 100 Node processes (≈ 2× the memory) on 2 cores.
  const workers = await startWorkers(ctx.dir, nWorkers, queue, ['--threads', '1'], ['--in-process']);
  const rssAll = workers.rssMiB();
  ctx.log(`${nWorkers} no-op workers (in-process) ready in ${workers.startSeconds.toFixed(1)} s, ${rssAll} MiB resident before any job`);
  const runner = await makeRunner(project, REDIS, { queue });
  try {
    const plan = (i: number): PlanSpec => {
      const config = { round: i };
      const maps = Array.from({ length: tasks }, (_, k) => ({ id: mapTaskId(k), input: null }));
      return { runId: runIdFor({ stage: 'noop', dataset: `noop-${i}`, parent: null, config, inputs: tasks }), stage: 'noop', dataset: `noop-${i}`, parent: null, config, maps };
    };
    // Warm-up: every worker's sandboxed child starts on its first job.
    await executePlan(project, plan(-1), runner);
    const rssWarm = workers.rssMiB();
    const t = await timePair(
      ctx.repeats,
      async () => {
        await rawBullmq(tasks, nWorkers);
      },
      async (i) => {
        const m = await executePlan(project, plan(i), runner);
        if ((m.extra as { tasks?: number }).tasks !== tasks) throw new Error(`noop run recorded ${JSON.stringify(m.extra)}`);
      },
    );
    ctx.log(`raw bullmq runs ${t.anchorRuns.map((s) => s.toFixed(2)).join(', ')} s; sluice noop runs ${t.oursRuns.map((s) => s.toFixed(2)).join(', ')} s`);
    return {
      name: `${tasks} no-op tasks through 1 coordinator, Redis and ${nWorkers} worker processes`,
      unit: 'tasks/s',
      ours: tasks / t.ours,
      anchor: tasks / t.anchor,
      anchorName: `raw BullMQ (addBulk + 1 Worker, concurrency ${nWorkers}, empty processor)`,
      notes: { workers: nWorkers, worker_start_s: workers.startSeconds.toFixed(1), rss_idle_mib: rssAll, rss_warm_mib: rssWarm },
    };
  } finally {
    await runner.close?.();
    await stopWorkers(workers);
    await obliterate(queue);
    await drop();
  }
}

export const bench: Bench = {
  name: 'runners: local vs BullMQ (import + dedup), and tiny-task throughput on many workers',
  async run(ctx) {
    const out = [await overhead(ctx)];
    // `--skip-tiny`: the 50-worker part takes minutes to start its processes; skip it for a quick check
    if (!process.argv.includes('--skip-tiny')) out.push(await tinyTasks(ctx));
    return out;
  },
};
