// `sluice score --model m@v --candidates ref --contexts ref --top-k k`: every candidate against
// every context, keeping the best k per context (optionally ranked by an expression).
import type { Command } from 'commander';
import { makeRunner } from '../engine/execute.ts';
import type { ScoreOptions } from '../score/plan.ts';
import { intOption, output, planProgressBar, withProject } from './common.ts';

/** What commander parses: the API's options, with `--top-k` for `k` and a runner. */
type Opts = Omit<ScoreOptions, 'k'> & { topK: number; runner?: string };

export function register(program: Command): void {
  program
    .command('score')
    .description('score every candidate against every context with a model and keep the top k per context')
    .requiredOption('--model <name@version>', 'model from the registry (one probability output)')
    .requiredOption('--candidates <ref>', 'candidates version (e.g. ads)')
    .requiredOption('--contexts <ref>', 'contexts version (e.g. users); feature columns are looked up in the candidate first, then the context')
    .requiredOption('--top-k <k>', 'rows kept per context', intOption('--top-k'))
    .option('--rank-by <expr>', 'rank by an expression over score and numeric columns, e.g. "bid * score"')
    .option('--candidate-id <column>', 'candidate id column', '_id')
    .option('--context-id <column>', 'context id column (unique)', '_id')
    .option('--into <dataset>', 'output dataset (default <candidates>-scores)')
    .option('--batch-size <n>', 'pairs per model call', intOption('--batch-size'))
    .option('--rows-per-task <n>', 'candidate rows per map task', intOption('--rows-per-task'))
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText('after', '\nExamples:\n  $ sluice score --model ctr@2 --candidates ads@3 --contexts users@1 --top-k 100\n  $ sluice score --model ctr@2 --candidates ads@3 --contexts users@1 --top-k 100 --rank-by "bid * score" --candidate-id ad_id --context-id user_id')
    .action(async (o: Opts, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, o.runner);
        const bar = planProgressBar(g, 'score');
        try {
          const { scoreCandidates } = await import('../score/plan.ts');
          const r = await scoreCandidates(
            p,
            {
              model: o.model,
              candidates: o.candidates,
              contexts: o.contexts,
              k: o.topK,
              ...(o.rankBy !== undefined ? { rankBy: o.rankBy } : {}),
              ...(o.candidateId ? { candidateId: o.candidateId } : {}),
              ...(o.contextId ? { contextId: o.contextId } : {}),
              ...(o.into ? { into: o.into } : {}),
              ...(o.batchSize ? { batchSize: o.batchSize } : {}),
              ...(o.rowsPerTask ? { rowsPerTask: o.rowsPerTask } : {}),
            },
            runner,
            bar.onProgress,
          );
          bar.stop();
          const m = r.manifest;
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, candidates: r.candidates, pairs: r.pairs, failed_candidates: r.failedCandidates, failed_contexts: r.failedContexts }, () =>
            `${m.dataset}@${m.version}: top ${o.topK} of ${r.candidates} candidates for each context (${r.pairs} pairs scored, ${m.rows} rows)` +
              (r.failedCandidates ? `; ${r.failedCandidates} candidates could not be scored` : '') +
              (r.failedContexts.length ? `; contexts whose features failed: ${r.failedContexts.slice(0, 10).join(', ')}` : ''),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
