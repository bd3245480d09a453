// The local runner: a plan's tasks run in this process, within the thread budget. The default.
import type { Catalog } from '../../store/catalog.ts';
import type { DuckSession } from '../duckdb.ts';
import { mapTaskId, reduceTaskId, type PlanOutputs, type PlanProgress, type PlanSpec, type Runner, type TaskEnv, type TaskOutput } from '../plan.ts';
import { executeTask, isPermanent, type TaskRef } from '../task.ts';
import { loadStage } from '../stages.ts';
import { UserCodeError } from '../../core/errors.ts';

export class LocalRunner implements Runner {
  readonly name = 'local';

  constructor(
    private readonly duck: DuckSession,
    private readonly catalog: Catalog,
    /** tasks at once; DuckDB already parallelizes inside a task, so 1 fits a small budget */
    private readonly concurrency = 1,
  ) {}

  async run(plan: PlanSpec, env: TaskEnv, onProgress?: (p: PlanProgress) => void): Promise<PlanOutputs> {
    const maps = await this.phase(plan, env, 'map', plan.maps.map((_, i) => ({ kind: 'map' as const, index: i, id: mapTaskId(i) })), onProgress);
    const reduces =
      plan.reduce && plan.shuffle
        ? await this.phase(
            plan,
            env,
            'reduce',
            Array.from({ length: plan.shuffle.partitions }, (_, p) => ({ kind: 'reduce' as const, index: p, id: reduceTaskId(p) })),
            onProgress,
          )
        : new Map<string, TaskOutput>();
    return { maps, reduces };
  }

  private async phase(
    plan: PlanSpec,
    env: TaskEnv,
    phase: 'map' | 'reduce',
    tasks: TaskRef[],
    onProgress?: (p: PlanProgress) => void,
  ): Promise<Map<string, TaskOutput>> {
    const out = new Map<string, TaskOutput>();
    let next = 0;
    let done = 0;
    onProgress?.({ phase, done, total: tasks.length });
    const wanted = phase === 'map' ? Math.max(this.concurrency, (await loadStage(plan.stage)).mapConcurrency ?? 1) : this.concurrency;
    // The first worker uses the runner's session; each other one its own connection to the same
    // database (a DuckDB connection runs one query at a time).
    const parallel = Math.max(1, Math.min(wanted, tasks.length));
    const worker = async (w: number) => {
      const duck = w === 0 ? this.duck : await this.duck.connect();
      try {
        while (next < tasks.length) {
          const task = tasks[next++]!;
          const r = await this.attempt(plan, env, task, duck, parallel);
          out.set(task.id, r);
          onProgress?.({ phase, done: ++done, total: tasks.length, task: task.id });
        }
      } finally {
        if (duck !== this.duck) duck.close();
      }
    };
    await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
    return out;
  }

  private async attempt(plan: PlanSpec, env: TaskEnv, task: TaskRef, duck: DuckSession, parallel: number): Promise<TaskOutput> {
    const max = plan.maxAttempts ?? 3;
    for (let n = 1; ; n++) {
      try {
        return (await executeTask({ env, plan, task, duck, catalog: this.catalog, parallel })).output;
      } catch (e) {
        if (isPermanent(e)) throw e;
        if (n >= max) {
          // Same words as the BullMQ runner, so a user sees one message whichever runner ran it.
          if (e instanceof UserCodeError) throw new UserCodeError(`task ${task.id} of run ${plan.runId} failed after ${n} attempt(s): ${e.message}`, e.userStack, { cause: e });
          throw e;
        }
      }
    }
  }
}
