// `sluice worker --redis URL [--pg URL]`: a scale-out worker for plans run with --runner redis://….
import type { Command } from 'commander';
import { globals, intOption } from './common.ts';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run plan tasks from Redis (BullMQ) in sandboxed child processes, until stopped')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--pg <url>', 'PostgreSQL catalog URL (as this machine reaches it)')
    .option('--concurrency <n>', 'tasks at once, each in its own process', intOption('--concurrency'), 1)
    .option('--queue <name>', 'queue name', 'sluice-tasks')
    .option('--in-process', 'run tasks in this process instead of sandboxed children (tiny tasks only: a long task blocks lock renewal)')
    .option('--lock-ms <ms>', 'job lock duration; a worker silent this long counts as stalled', intOption('--lock-ms'), 30_000)
    .addHelpText('after', '\nExample:\n  $ sluice worker --redis redis://10.0.0.5:6379 --pg postgres://10.0.0.5/sluice --concurrency 2\n  (the data folder must be shared at the same path on every machine; job data in Redis carries no\n   PostgreSQL password: give it here in --pg or in PGPASSWORD)')
    .action(async (opts: { redis: string; pg?: string; concurrency: number; queue: string; lockMs: number; inProcess?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const { startWorker } = await import('../engine/runners/worker.ts');
      const worker = await startWorker({
        redisUrl: opts.redis,
        ...(opts.pg ? { postgres: opts.pg } : {}),
        concurrency: opts.concurrency,
        queue: opts.queue,
        lockDurationMs: opts.lockMs,
        inProcess: Boolean(opts.inProcess),
        ...(g.threads ? { threads: g.threads } : {}),
      });
      if (!g.quiet) console.error(`sluice worker ${process.pid} on ${opts.queue} (concurrency ${opts.concurrency}); Ctrl-C to stop`);
      if (process.env.SLUICE_WORKER_READY_FILE) (await import('node:fs')).writeFileSync(process.env.SLUICE_WORKER_READY_FILE, String(process.pid));
      await new Promise<void>((resolve) => {
        const stop = () => void worker.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      // Running jobs are done; in-process catalogs and the tsx loader would keep the process alive.
      process.exit(0);
    });
}
