// A BullMQ worker: runs plan tasks in sandboxed child processes (CPU-bound work must not block the
// process that renews job locks).
import { Worker } from 'bullmq';
import { fileURLToPath } from 'node:url';
import { DEFAULT_QUEUE, redisConnection } from './bullmq.ts';

export interface WorkerOptions {
  redisUrl: string;
  /** PostgreSQL URL the children use for the catalog (overrides the one in each job) */
  postgres?: string;
  queue?: string;
  /** tasks at once, each in its own child process */
  concurrency?: number;
  /** DuckDB threads per task */
  threads?: number;
  /** how long a job's lock lasts without renewal before the job counts as stalled */
  lockDurationMs?: number;
  /** run jobs in this process instead of child processes (for no-op throughput tests) */
  inProcess?: boolean;
}

const PROCESSOR = fileURLToPath(new URL('./processor.js', import.meta.url));

/** A started worker; `close` waits for running jobs, then releases its Redis connection. */
export interface StartedWorker {
  worker: Worker;
  close(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<StartedWorker> {
  if (o.postgres) process.env.SLUICE_WORKER_PG = o.postgres;
  if (o.threads) process.env.SLUICE_WORKER_THREADS = String(o.threads);
  const lockDuration = o.lockDurationMs ?? 30_000;
  const processor = o.inProcess ? (await import('./processor-impl.ts')).processJob : PROCESSOR;
  // BullMQ does not close a connection it was given: we do, in close().
  const connection = redisConnection(o.redisUrl);
  const worker = new Worker(o.queue ?? DEFAULT_QUEUE, processor as never, {
    connection,
    concurrency: o.concurrency ?? 1,
    useWorkerThreads: false,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 5,
  });
  worker.on('error', (e) => console.error(`worker error: ${e.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}
