// `sluice dedup <ref> --key k --latest f --out name`: one row per key, the latest by a field.
import type { Command } from 'commander';
import { dedupByKey } from '../engine/dedup.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('dedup <ref>')
    .description('keep one row per key (the latest by a field), across all parts: a shuffle by key hash')
    .requiredOption('--key <columns>', 'comma-separated key columns')
    .requiredOption('--latest <column>', 'keep the row with the largest value of this column')
    .requiredOption('--out <dataset>', 'dataset to write')
    .option('--partitions <n>', 'shuffle partitions (reduce tasks)', intOption('--partitions'))
    .option('--runner <runner>', '`local` or a Redis URL')
    .option('--queue <name>', 'BullMQ queue the workers listen on (with a Redis runner)')
    .addHelpText('after', '\nExample:\n  $ sluice dedup events --key user_id,item_id --latest ts --out events-latest')
    .action(async (ref: string, opts: { key: string; latest: string; out: string; partitions?: number; runner?: string; queue?: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, opts.runner, opts.queue ? { queue: opts.queue } : {});
        const bar = planProgressBar(g, 'dedup');
        try {
          const m = await dedupByKey(
            p,
            { input: ref, output: opts.out, key: opts.key.split(',').map((s) => s.trim()), latest: opts.latest, ...(opts.partitions ? { partitions: opts.partitions } : {}) },
            runner,
            bar.onProgress,
          );
          bar.stop();
          const dropped = Number((m.extra as { dropped?: number } | undefined)?.dropped ?? 0);
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, dropped }, () => `${m.dataset}@${m.version}: ${m.rows} rows kept, ${dropped} duplicates dropped`);
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
