// `sluice infer --model m@v --data ref`: scores a dataset version into a new version; rows whose
// features fail go to `<output>-deadletter` with the reason.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, withProject } from './common.ts';

interface Opts {
  model: string;
  data: string;
  out?: string;
  batchSize?: number;
  keep?: string;
  column?: string[];
  remote?: string;
  protocol?: string;
  timeout?: number;
  concurrency?: number;
  runner?: string;
}

export function register(program: Command): void {
  program
    .command('infer')
    .description('run a registered model over a dataset version; outputs become new columns of a new version')
    .requiredOption('--model <name@version>', 'model from the registry')
    .requiredOption('--data <ref>', 'dataset version to score')
    .option('--out <dataset>', 'output dataset (default <data>-<model>)')
    .option('--batch-size <n>', 'rows per model call', intOption('--batch-size'))
    .option('--keep <columns>', 'input columns to keep beside the outputs: all (default), none, or a comma-separated list')
    .option('--column <output=name...>', 'name the column of a model output')
    .option('--remote <url>', 'score on a model server instead of in process')
    .option('--protocol <p>', 'remote protocol: v2 (Triton, KServe) or tfserving', 'v2')
    .option('--timeout <ms>', 'remote request timeout', intOption('--timeout'))
    .option('--concurrency <n>', 'remote requests in flight', intOption('--concurrency'))
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText('after', '\nExamples:\n  $ sluice infer --model ctr@1 --data ads-pool@1 --keep none\n  $ sluice infer --model ctr --data ads@3 --remote http://127.0.0.1:8000 --protocol v2')
    .action(async (o: Opts, cmd: Command) => {
      const keep = o.keep === undefined || o.keep === 'all' ? 'all' : o.keep === 'none' ? [] : o.keep.split(',').map((s) => s.trim());
      const columns: Record<string, string> = {};
      for (const c of o.column ?? []) {
        const [k, v] = c.split('=');
        if (!k || !v) throw new UsageError(`--column ${JSON.stringify(c)}: write output=name`);
        columns[k] = v;
      }
      const protocol = o.protocol;
      if (protocol !== 'v2' && protocol !== 'tfserving') throw new UsageError(`--protocol must be v2 or tfserving, got ${JSON.stringify(protocol)}`);
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, o.runner);
        const bar = planProgressBar(g, 'infer');
        try {
          const { runInference } = await import('../model/infer/plan.ts');
          const r = await runInference(
            p,
            {
              model: o.model,
              data: o.data,
              keep,
              columns,
              ...(o.out ? { output: o.out } : {}),
              ...(o.batchSize ? { batchSize: o.batchSize } : {}),
              ...(o.remote ? { remote: { url: o.remote, protocol, ...(o.timeout ? { timeoutMs: o.timeout } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}) } } : {}),
            },
            runner,
            bar.onProgress,
          );
          bar.stop();
          const m = r.manifest;
          const dl = r.deadletter;
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, deadletter: dl ? { dataset: dl.dataset, version: dl.version, rows: dl.rows } : null }, () =>
            `${m.dataset}@${m.version}: ${m.rows} rows scored` + (dl ? `; ${dl.rows} rows dead-lettered to ${dl.dataset}@${dl.version}` : '; no dead-letter rows'),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
