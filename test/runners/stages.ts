// Stages written for the runner tests: tasks that take a while (so a worker can be killed or
// stopped mid-task) and leave marker files saying which process ran which attempt, and a stage
// whose task always throws (its stack must reach the user).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { configHash } from '../../src/core/hash.ts';
import { describeFile } from '../../src/core/dataset.ts';
import type { Part } from '../../src/core/manifest.ts';
import { safeJoin } from '../../src/core/names.ts';
import { lit } from '../../src/engine/duckdb.ts';
import type { Stage, TaskContext } from '../../src/engine/plan.ts';

export interface SlowConfig {
  /** how long each map task works before writing its part */
  sleepMs: number;
  /** folder for `<task>.<attempt>.start|done` marker files ({ pid, ppid }) */
  markers: string;
  [k: string]: string | number;
}

/** Task input: how many rows the task's part holds. */
export interface SlowInput {
  rows: number;
  [k: string]: number;
}

function mark(ctx: TaskContext, what: 'start' | 'done'): void {
  const dir = (ctx.plan.config as unknown as SlowConfig).markers;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${ctx.taskId}.${ctx.attemptId}.${what}`), JSON.stringify({ pid: process.pid, ppid: process.ppid, outDir: ctx.outDir }));
}

/** Each map task sleeps, then writes `rows` rows whose `_id`s depend only on the task. */
export const slowStage: Stage = {
  name: 'test-slow',
  async map(ctx, task) {
    const c = ctx.plan.config as unknown as SlowConfig;
    const input = task.input as unknown as SlowInput;
    mark(ctx, 'start');
    await sleep(c.sleepMs);
    const rel = `${ctx.outDir}/part-0.parquet`;
    await ctx.duck.run(
      `COPY (SELECT ${lit(task.id)} || ':' || i AS _id, i AS n, (i * 7) % 13 AS v FROM range(${input.rows}) t(i) ORDER BY i) ` +
        `TO ${lit(safeJoin(ctx.env.dataDir, rel))} (FORMAT parquet)`,
    );
    const entry = await describeFile(ctx.duck, ctx.env.dataDir, rel);
    mark(ctx, 'done');
    return { parts: [entry] };
  },
  async commit(plan, outputs, head) {
    const parts = plan.maps.map((m) => outputs.maps.get(m.id)!.parts![0] as Part);
    return {
      schema: [
        { name: '_id', type: 'VARCHAR', nullable: false },
        { name: 'n', type: 'BIGINT', nullable: true },
        { name: 'v', type: 'BIGINT', nullable: true },
      ],
      parts,
      rows: parts.reduce((n, p) => n + p.rows, 0),
      parents: head ? [`${head.dataset}@${head.version}`] : [],
      operation: 'test-slow',
      config_hash: configHash(plan.config),
      licences: [],
    };
  },
};

/** Every map task throws: the runner must give up after the plan's attempts. */
export const failingStage: Stage = {
  name: 'test-failing',
  async map(ctx) {
    mark(ctx, 'start');
    throw new Error(`row 7 of task ${ctx.taskId} has no price`); // FAILING-LINE
  },
  async commit() {
    throw new Error('the failing stage never commits');
  },
};

/** Map tasks that may run two at a time: each waits (up to 10 s) until the other has started. */
const overlapStarted = new Map<string, () => void>();
const overlapWaits = new Map<string, Promise<void>>();
function overlapSignal(key: string): Promise<void> {
  let p = overlapWaits.get(key);
  if (!p) {
    p = new Promise<void>((resolve) => overlapStarted.set(key, resolve));
    overlapWaits.set(key, p);
  }
  return p;
}

export const overlapStage: Stage = {
  ...slowStage,
  name: 'test-overlap',
  mapConcurrency: 2,
  async map(ctx, task) {
    if (ctx.parallel !== 2) throw new Error(`task ${task.id} was told ${ctx.parallel} task(s) run at once`);
    // The same temp table name in both tasks: only separate DuckDB connections keep them apart.
    await ctx.duck.run(`CREATE TEMP TABLE mine AS SELECT ${lit(task.id)} AS id, i FROM range(${(task.input as unknown as SlowInput).rows}) t(i)`);
    const self = `${ctx.plan.runId}:${task.id}`;
    overlapSignal(self);
    overlapStarted.get(self)!();
    const other = `${ctx.plan.runId}:${task.id === 'm00000' ? 'm00001' : 'm00000'}`;
    const timeout = sleep(10_000).then(() => {
      throw new Error(`task ${task.id} ran alone: ${other} did not start beside it`);
    });
    await Promise.race([overlapSignal(other), timeout]);
    const rel = `${ctx.outDir}/part-0.parquet`;
    await ctx.duck.run(`COPY (SELECT id || ':' || i AS _id, i AS n, (i * 7) % 13 AS v FROM mine ORDER BY i) TO ${lit(safeJoin(ctx.env.dataDir, rel))} (FORMAT parquet)`);
    await ctx.duck.run('DROP TABLE mine');
    return { parts: [await describeFile(ctx.duck, ctx.env.dataDir, rel)] };
  },
};
