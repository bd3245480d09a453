// The BullMQ runner: the same plan's tasks run as BullMQ jobs on `sluice worker` processes.
//
// Map tasks are the children of a barrier job (a BullMQ flow); reduce tasks likewise. Job ids are
// `<run id>.<project scope>.<task id>`, so a coordinator that restarts finds the jobs it already
// enqueued and waits on them instead of enqueueing twice (the scope keeps two projects that share
// a queue apart when their runs hash alike). Job data is small: workers read the plan from the
// catalog. Outputs come from the catalog, where the first finished attempt of each task was recorded.
import { FlowProducer, Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError, SluiceError, UserCodeError } from '../../core/errors.ts';
import { sha256Text } from '../../core/hash.ts';
import type { Catalog } from '../../store/catalog.ts';
import { mapTaskId, reduceTaskId, type PlanOutputs, type PlanProgress, type PlanSpec, type Runner, type TaskEnv, type TaskOutput } from '../plan.ts';
import type { TaskRef } from '../task.ts';

export const DEFAULT_QUEUE = 'sluice-tasks';

export interface JobData {
  runId: string;
  task?: TaskRef;
  env: TaskEnv;
  barrier?: boolean;
}

export interface BullmqRunnerOptions {
  redisUrl: string;
  catalog: Catalog;
  queue?: string;
  pollMs?: number;
}

export function redisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export class BullmqRunner implements Runner {
  readonly name = 'bullmq';
  private readonly connection: Redis;
  readonly queue: Queue;
  private readonly flows: FlowProducer;
  private readonly pollMs: number;

  constructor(private readonly o: BullmqRunnerOptions) {
    this.connection = redisConnection(o.redisUrl);
    const name = o.queue ?? DEFAULT_QUEUE;
    this.queue = new Queue(name, { connection: this.connection });
    this.flows = new FlowProducer({ connection: this.connection });
    this.pollMs = o.pollMs ?? 50;
  }

  async run(plan: PlanSpec, env: TaskEnv, onProgress?: (p: PlanProgress) => void): Promise<PlanOutputs> {
    const mapTasks = plan.maps.map((_, i): TaskRef => ({ kind: 'map', index: i, id: mapTaskId(i) }));
    await this.phase(plan, env, 'map', mapTasks, onProgress);
    if (plan.reduce && plan.shuffle) {
      const reduceTasks = Array.from({ length: plan.shuffle.partitions }, (_, p): TaskRef => ({ kind: 'reduce', index: p, id: reduceTaskId(p) }));
      await this.phase(plan, env, 'reduce', reduceTasks, onProgress);
    }
    const results = await this.o.catalog.taskResults<TaskOutput>(plan.runId);
    const pick = (prefix: string) => new Map([...results].filter(([id]) => id.startsWith(prefix)).map(([id, r]) => [id, r.output]));
    return { maps: pick('m'), reduces: pick('r') };
  }

  /** The job id of a task (or a phase barrier) of a plan run in the project `env` describes. */
  static jobId(plan: PlanSpec, env: TaskEnv, id: string): string {
    const c = env.catalogSpec;
    const scope = sha256Text(JSON.stringify([env.dataDir, c.kind, c.kind === 'sqlite' ? c.path : c.schema])).slice(0, 8);
    return `${plan.runId}.${scope}.${id}`;
  }

  private async phase(plan: PlanSpec, fullEnv: TaskEnv, phase: 'map' | 'reduce', tasks: TaskRef[], onProgress?: (p: PlanProgress) => void): Promise<void> {
    const env = withoutSecrets(fullEnv);
    const barrierId = BullmqRunner.jobId(plan, env, `${phase}s`);
    let barrier = await this.queue.getJob(barrierId);
    if (barrier && (await barrier.getState()) === 'failed') {
      await this.removeFailed([barrier, ...(await Promise.all(tasks.map((t) => this.queue.getJob(BullmqRunner.jobId(plan, env, t.id)))))]);
      barrier = undefined;
    }
    if (!barrier) {
      const attempts = plan.maxAttempts ?? 3;
      const keep = { age: 7 * 86_400 };
      // One flow is one Redis transaction: the barrier and all its children exist, or none do.
      await this.flows.add({
        name: 'barrier',
        queueName: this.queue.name,
        data: { runId: plan.runId, env, barrier: true } satisfies JobData,
        opts: { jobId: barrierId, removeOnComplete: keep, removeOnFail: keep },
        children: tasks.map((task) => ({
          name: phase,
          queueName: this.queue.name,
          data: { runId: plan.runId, task, env } satisfies JobData,
          opts: {
            jobId: BullmqRunner.jobId(plan, env, task.id),
            attempts,
            backoff: { type: 'fixed', delay: 100 },
            failParentOnFailure: true,
            removeOnComplete: keep,
            removeOnFail: keep,
          },
        })),
      });
    }
    // Every phase reports from zero, however fast the workers are.
    onProgress?.({ phase, done: 0, total: tasks.length });
    let lastDone = 0;
    let unsettled = 0;
    for (;;) {
      const job = await this.queue.getJob(barrierId);
      if (!job) throw new SluiceError(`barrier job ${barrierId} disappeared from Redis`, { hint: 'was the queue obliterated? rerun the command' });
      const state = await job.getState();
      if (state === 'failed') throw await this.failure(plan, env, tasks);
      // The barrier leaves `waiting-children` when its last child completed: no need to wait for
      // a worker to pick the barrier itself up.
      const finished = state !== 'waiting-children' && state !== 'unknown';
      const done = finished ? tasks.length : ((await job.getDependenciesCount({ processed: true })).processed ?? 0);
      if (finished) {
        // A barrier can leave `waiting-children` on its way to `failed` (a child used up its
        // attempts): the phase is done only when every task's result is in the catalog.
        const results = await this.o.catalog.taskResults(plan.runId);
        const missing = tasks.filter((t) => !results.has(t.id));
        if (missing.length === 0) {
          if (lastDone !== tasks.length) onProgress?.({ phase, done: tasks.length, total: tasks.length });
          return;
        }
        for (const t of missing) {
          const tj = await this.queue.getJob(BullmqRunner.jobId(plan, env, t.id));
          if (tj && (await tj.getState()) === 'failed') throw await this.failure(plan, env, tasks);
        }
        if (++unsettled > 1200) {
          throw new InternalError(`phase ${phase} of run ${plan.runId} finished in Redis but ${missing.length} task result(s) never reached the catalog`, {
            hint: 'rerun the command; finished tasks are not redone',
          });
        }
      } else if (done !== lastDone) onProgress?.({ phase, done: (lastDone = done), total: tasks.length });
      await sleep(this.pollMs);
    }
  }

  /**
   * Removes a failed phase so a rerun can enqueue it again: the barrier and every task job (a
   * failed child is not among the barrier's dependencies any more, and a job id that still exists
   * would not be added again). Jobs still running elsewhere hold locks: wait for them; results
   * already recorded stay in the catalog and are not redone.
   */
  private async removeFailed(jobs: (Job | undefined)[]): Promise<void> {
    for (const job of jobs) {
      for (let tries = 0; job; tries++) {
        try {
          await job.remove({ removeChildren: false });
          break;
        } catch (e) {
          if (tries >= 600 || !/locked/.test((e as Error).message)) throw e;
          await sleep(100);
        }
      }
    }
  }

  /** The error of the task that used up its attempts, with the user's stack. */
  private async failure(plan: PlanSpec, env: TaskEnv, tasks: TaskRef[]): Promise<Error> {
    for (const t of tasks) {
      const job: Job | undefined = await this.queue.getJob(BullmqRunner.jobId(plan, env, t.id));
      if (job && (await job.getState()) === 'failed') {
        const stack = job.stacktrace?.[job.stacktrace.length - 1];
        return new UserCodeError(`task ${t.id} of run ${plan.runId} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`, stack);
      }
    }
    return new SluiceError(`run ${plan.runId} failed (no failed task found)`);
  }

  async close(): Promise<void> {
    await this.flows.close();
    await this.queue.close();
    this.connection.disconnect();
  }
}

/**
 * The task environment as it travels in Redis: a PostgreSQL URL loses its password (anyone who can
 * read the queue could read it). A worker supplies its own: `sluice worker --pg <url>` or PGPASSWORD.
 */
export function withoutSecrets(env: TaskEnv): TaskEnv {
  const c = env.catalogSpec;
  if (c.kind !== 'postgres') return env;
  let url = c.url;
  try {
    const u = new URL(c.url);
    if (u.password) {
      u.password = '';
      url = u.toString();
    }
  } catch {
    url = c.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1@');
  }
  return { ...env, catalogSpec: { ...c, url } };
}
