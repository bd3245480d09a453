// Runs one task attempt: the same function serves the local runner and the BullMQ processor.
//
// Each attempt writes only inside its own folder; the catalog records the first attempt that
// finishes, and the commit reads only recorded attempts, so a zombie's files never enter a version.
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { SluiceError, UserCodeError } from '../core/errors.ts';
import type { FileEntry } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import type { Catalog, TaskResult } from '../store/catalog.ts';
import type { DuckSession } from './duckdb.ts';
import { mapTaskId, type PlanSpec, type TaskEnv, type TaskOutput } from './plan.ts';
import { loadStage } from './stages.ts';

export interface TaskRef {
  kind: 'map' | 'reduce';
  index: number;
  id: string;
}

export function attemptDir(plan: PlanSpec, taskId: string, attemptId: string): string {
  return `${plan.dataset}/runs/${plan.runId}/${taskId}/${attemptId}`;
}

export async function executeTask(args: {
  env: TaskEnv;
  plan: PlanSpec;
  task: TaskRef;
  duck: DuckSession;
  catalog: Catalog;
  attemptId?: string;
  onProgress?: (done: number, total?: number) => void;
  /** tasks the runner runs side by side in this process */
  parallel?: number;
}): Promise<TaskResult<TaskOutput>> {
  const { env, plan, task, duck, catalog } = args;
  const done = await catalog.taskResult<TaskOutput>(plan.runId, task.id);
  if (done) return done;
  const attemptId = args.attemptId ?? randomUUID().slice(0, 8);
  const outDir = attemptDir(plan, task.id, attemptId);
  mkdirSync(safeJoin(env.dataDir, outDir), { recursive: true });
  const stage = await loadStage(plan.stage);
  const ctx = { env, plan, taskId: task.id, attemptId, outDir, duck, catalog, progress: args.onProgress ?? (() => {}), parallel: args.parallel ?? 1 };
  let output: TaskOutput;
  try {
    if (task.kind === 'map') {
      const m = plan.maps[task.index];
      if (!m) throw new SluiceError(`plan ${plan.runId} has no map task ${task.index}`);
      output = await stage.map(ctx, m);
    } else {
      if (!stage.reduce) throw new SluiceError(`stage ${plan.stage} has no reduce step`);
      const maps = await catalog.taskResults<TaskOutput>(plan.runId);
      const inputs: FileEntry[] = [];
      for (let i = 0; i < plan.maps.length; i++) {
        const r = maps.get(mapTaskId(i));
        if (!r) throw new SluiceError(`reduce ${task.id} started before map ${mapTaskId(i)} finished`);
        inputs.push(...(r.output.shuffle?.[String(task.index)] ?? []));
      }
      output = await stage.reduce(ctx, task.index, inputs);
    }
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    const err = e as Error;
    throw new UserCodeError(`stage ${plan.stage}, task ${task.id}: ${err?.message ?? String(e)}`, err?.stack, { cause: e });
  }
  return catalog.recordTask(plan.runId, task.id, attemptId, output);
}

/** Errors that a retry cannot fix: bad input, bad config, missing things, corrupt files. */
export function isPermanent(e: unknown): boolean {
  return e instanceof SluiceError && !(e instanceof UserCodeError) && !e.retryable && e.name !== 'SluiceError';
}
