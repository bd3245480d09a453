// `sluice rebalance <ref> --label col (--oversample r | --undersample r | --weights)`.
import type { Command } from 'commander';
import { rebalanceVersion } from '../analyze/rebalance.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, table, withProject } from './common.ts';

const ratio = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number in (0, 1], got ${JSON.stringify(v)}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('rebalance <ref>')
    .description('seeded over/undersampling of a label\'s classes, or a class-weight column; records the sampling rates')
    .requiredOption('--label <col>', 'label column')
    .option('--oversample <r>', 'grow every class to at least r × the largest (e.g. 0.2 = 1:5)', ratio('--oversample'))
    .option('--undersample <r>', 'cut every class to at most the smallest / r', ratio('--undersample'))
    .option('--weights', 'add a weight column of inverse class frequencies instead of resampling')
    .option('--weight-column <name>', 'name of the weight column', 'weight')
    .option('--seed <n>', 'seed of the sampling', intOption('--seed'), 0)
    .option('--out <dataset>', 'dataset to write (default: a new version of the input\'s dataset)')
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText('after', '\nExample:\n  $ sluice rebalance ads-train@1 --label clicked --oversample 0.2')
    .action(async (ref: string, opts: { label: string; oversample?: number; undersample?: number; weights?: boolean; weightColumn: string; seed: number; out?: string; runner?: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, opts.runner);
        const bar = planProgressBar(g, 'rebalance');
        try {
          const m = await rebalanceVersion(p, ref, {
            label: opts.label,
            ...(opts.oversample !== undefined ? { oversample: opts.oversample } : {}),
            ...(opts.undersample !== undefined ? { undersample: opts.undersample } : {}),
            ...(opts.weights ? { weights: true } : {}),
            weightColumn: opts.weightColumn,
            seed: opts.seed,
            ...(opts.out ? { out: opts.out } : {}),
            runner,
            onProgress: bar.onProgress,
          });
          bar.stop();
          const r = m.extra!.rebalance as { before: Record<string, number>; after: Record<string, number>; rates: Record<string, number>; weights: Record<string, number> | null };
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, ...r }, () =>
            [
              `${m.dataset}@${m.version}: ${m.rows} rows`,
              table(Object.keys(r.before).map((k) => [k, r.before[k], r.after[k], r.rates[k]!.toFixed(4), r.weights?.[k]?.toFixed(4)]), ['class', 'before', 'after', 'sampling rate', 'weight']),
              'the sampling rates are recorded in the version (extra.rebalance.rates) to calibrate scores back to true rates',
            ].join('\n'),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
