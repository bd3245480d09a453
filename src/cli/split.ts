// `sluice split <ref> --ratios 0.8,0.1,0.1 [--group col] [--stratify col]` or `--by-time col --cutoffs …`.
import type { Command } from 'commander';
import { parseRatios, splitVersion } from '../analyze/split.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('split <ref>')
    .description('split a version into named versions (<name>-train, -val, -test): by seeded hash of a group key, stratified, or by time')
    .option('--ratios <list>', 'split shares summing to 1, e.g. 0.8,0.1,0.1')
    .option('--names <list>', 'split names (default train,val,test or train,test)')
    .option('--group <col>', 'keep all rows of a group in one split (hash of this column)')
    .option('--stratify <col>', 'keep each class share within one point of the whole in every split')
    .option('--seed <n>', 'seed of the hash', intOption('--seed'), 0)
    .option('--by-time <col>', 'split by time: rows before the first cutoff train, and so on')
    .option('--cutoffs <list>', 'increasing cutoffs for --by-time (one fewer than the splits)')
    .option('--out <prefix>', 'name prefix of the split datasets (default: the input dataset)')
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText('after', '\nExamples:\n  $ sluice split ads@3 --group user_id --stratify clicked --ratios 0.8,0.1,0.1\n  $ sluice split events --by-time ts --cutoffs 2024-03-01,2024-04-01')
    .action(async (ref: string, opts: { ratios?: string; names?: string; group?: string; stratify?: string; seed: number; byTime?: string; cutoffs?: string; out?: string; runner?: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, opts.runner);
        const bar = planProgressBar(g, 'split');
        const list = (s?: string) => s?.split(',').map((x) => x.trim());
        try {
          const r = await splitVersion(p, ref, {
            ...(opts.ratios ? { ratios: parseRatios(opts.ratios) } : {}),
            ...(opts.names ? { names: list(opts.names)! } : {}),
            ...(opts.group ? { group: opts.group } : {}),
            ...(opts.stratify ? { stratify: opts.stratify } : {}),
            ...(opts.byTime ? { byTime: opts.byTime } : {}),
            ...(opts.cutoffs ? { cutoffs: list(opts.cutoffs)! } : {}),
            ...(opts.out ? { out: opts.out } : {}),
            seed: opts.seed,
            runner,
            onProgress: bar.onProgress,
          });
          bar.stop();
          output(g, r, () =>
            table(
              r.splits.map((s) => [`${s.dataset}@${s.version}`, s.rows, `${(s.share * 100).toFixed(2)}%`, s.strata ? Object.entries(s.strata).map(([k, n]) => `${k}:${((n / s.rows) * 100).toFixed(2)}%`).join(' ') : '']),
              ['split', 'rows', 'share', 'class shares'],
            ),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
