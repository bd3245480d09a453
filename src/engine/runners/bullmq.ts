// The BullMQ runner: the same plan's tasks run as BullMQ jobs on `sluice worker` processes.
//
// Map tasks are the children of a barrier job (a BullMQ flow); reduce tasks likewise. Job ids are
// `<run id>.<task id>`, so a coordinator that restarts finds the jobs it already enqueued and
// waits on them instead of enqueueing twice. Outputs come from the catalog, where the first
// finished attempt of each task was recorded.
import { FlowProducer, Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, UserCodeError } from '../../core/errors.ts';
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
  private readonly queue: Queue;
  private readonly flows: FlowProducer;
  private readonly pollMs: number;

  constructor(private readonly o: BullmqRunnerOptions) {
    this.connection = redisConnection(o.redisUrl);
    const name = o.queue ?? DEFAULT_QUEUE;
    this.queue = new Queue(name, { connection: this.connection });
    this.flows = new FlowProducer({ connection: this.connection });
    this.pollMs = o.pollMs ?? 100;
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

  private jobId(plan: PlanSpec, id: string): string {
    return `${plan.runId}.${id}`;
  }

  private async phase(plan: PlanSpec, env: TaskEnv, phase: 'map' | 'reduce', tasks: TaskRef[], onProgress?: (p: PlanProgress) => void): Promise<void> {
    const barrierId = this.jobId(plan, `${phase}s`);
    let barrier = await this.queue.getJob(barrierId);
    if (barrier && (await barrier.getState()) === 'failed') {
      await barrier.remove({ removeChildren: true });
      barrier = undefined;
    }
    if (!barrier) {
      const attempts = plan.maxAttempts ?? 3;
      await this.flows.add({
        name: 'barrier',
        queueName: this.queue.name,
        data: { runId: plan.runId, env, barrier: true } satisfies JobData,
        opts: { jobId: barrierId, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 7 * 86_400 } },
        children: tasks.map((task) => ({
          name: phase,
          queueName: this.queue.name,
          data: { runId: plan.runId, task, env } satisfies JobData,
          opts: {
            jobId: this.jobId(plan, task.id),
            attempts,
            backoff: { type: 'fixed', delay: 100 },
            failParentOnFailure: true,
            removeOnComplete: { age: 7 * 86_400 },
            removeOnFail: { age: 7 * 86_400 },
          },
        })),
      });
    }
    onProgress?.({ phase, done: 0, total: tasks.length });
    let lastDone = -1;
    for (;;) {
      const job = await this.queue.getJob(barrierId);
      if (!job) throw new SluiceError(`barrier job ${barrierId} disappeared from Redis`, { hint: 'was the queue obliterated? rerun the command' });
      const state = await job.getState();
      if (state === 'completed') break;
      if (state === 'failed') throw await this.failure(plan, tasks);
      if (onProgress) {
        const prefix = phase === 'map' ? 'm' : 'r';
        const done = [...(await this.o.catalog.taskResults(plan.runId)).keys()].filter((id) => id.startsWith(prefix)).length;
        if (done !== lastDone) onProgress({ phase, done: (lastDone = done), total: tasks.length });
      }
      await sleep(this.pollMs);
    }
    onProgress?.({ phase, done: tasks.length, total: tasks.length });
  }

  /** The error of the task that used up its attempts, with the user's stack. */
  private async failure(plan: PlanSpec, tasks: TaskRef[]): Promise<Error> {
    for (const t of tasks) {
      const job: Job | undefined = await this.queue.getJob(this.jobId(plan, t.id));
      if (job && (await job.getState()) === 'failed') {
        const stack = job.stacktrace?.[job.stacktrace.length - 1];
        return new UserCodeError(`task ${t.id} of run ${plan.runId} failed after ${job.attemptsMade} attempts: ${job.failedReason}`, stack);
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
