// `sluice mine --model m@v --data ref --hard-negatives N …`: scores a pool with a checkpoint and
// commits the examples worth adding to training (or queues them for a label with --review).
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, withProject } from './common.ts';

interface Opts {
  model: string;
  data: string;
  hardNegatives?: number;
  hardPositives?: number;
  highestLoss?: number;
  uncertainty?: string;
  top?: number;
  label?: string;
  capPerClass?: number;
  threshold?: string;
  exclude?: string;
  key?: string;
  review?: boolean;
  into?: string;
  batchSize?: number;
  runner?: string;
}

export function register(program: Command): void {
  program
    .command('mine')
    .description('score a pool with a model and keep the examples worth adding to training (hard negatives/positives, highest loss, uncertainty)')
    .requiredOption('--model <name@version>', 'model from the registry (one probability output)')
    .requiredOption('--data <ref>', 'dataset version to mine')
    .option('--hard-negatives <n>', 'negatives with the highest positive score', intOption('--hard-negatives'))
    .option('--hard-positives <n>', 'positives with the lowest positive score', intOption('--hard-positives'))
    .option('--highest-loss <n>', 'rows with the highest log loss', intOption('--highest-loss'))
    .option('--uncertainty <kind>', 'margin or entropy (with --top)')
    .option('--top <n>', 'how many uncertain rows to pick', intOption('--top'))
    .option('--label <column>', '0/1 label column', 'label')
    .option('--cap-per-class <n>', 'at most n picks per class', intOption('--cap-per-class'))
    .option('--threshold <t>', 'keep picks with mine_score ≥ t')
    .option('--exclude <ref>', 'training version: its rows (by _id) are never picked; the picks are appended to it unless --into or --review')
    .option('--key <column>', 'also exclude rows whose key column value is in the training version')
    .option('--review', 'send the picks to the review queue for a label, best first')
    .option('--into <dataset>', 'output dataset (default: the --exclude dataset, else <data>-mined)')
    .option('--batch-size <n>', 'rows per model call', intOption('--batch-size'))
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sluice mine --model ctr@1 --data ads-pool@1 --hard-negatives 50000 --exclude ads-train@2\n' +
        '  $ sluice mine --model ctr@1 --data ads-pool@1 --uncertainty entropy --top 500 --cap-per-class 250 --review',
    )
    .action(async (o: Opts, cmd: Command) => {
      const { strategyFromFlags } = await import('../mine/strategy.ts');
      const { strategy, count } = strategyFromFlags(o);
      const threshold = o.threshold === undefined ? undefined : Number(o.threshold);
      if (threshold !== undefined && !Number.isFinite(threshold)) throw new UsageError(`--threshold must be a number, got ${JSON.stringify(o.threshold)}`);
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, o.runner);
        const bar = planProgressBar(g, 'mine');
        try {
          const { mine } = await import('../mine/plan.ts');
          const r = await mine(
            p,
            {
              model: o.model,
              data: o.data,
              strategy,
              count,
              ...(o.label ? { label: o.label } : {}),
              ...(o.capPerClass !== undefined ? { capPerClass: o.capPerClass } : {}),
              ...(threshold !== undefined ? { threshold } : {}),
              ...(o.exclude ? { exclude: o.exclude } : {}),
              ...(o.key ? { key: o.key } : {}),
              ...(o.review ? { review: true } : {}),
              ...(o.into ? { into: o.into } : {}),
              ...(o.batchSize ? { batchSize: o.batchSize } : {}),
            },
            runner,
            bar.onProgress,
          );
          bar.stop();
          const m = r.manifest;
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, picked: r.picked, unscored: r.unscored, review_items: r.reviewItems }, () =>
            `${m.dataset}@${m.version}: ${r.picked} examples mined by ${strategy} (${m.rows} rows in the version)` +
              (r.unscored ? `; ${r.unscored} rows could not be scored` : '') +
              (o.review ? `; ${r.reviewItems} new review items` : ''),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
