// `sluice import <files…> --name X`: files (CSV, TSV, JSONL, JSON, Parquet, Arrow IPC, gzip) → a version.
import type { Command } from 'commander';
import { importFiles } from '../io/import.ts';
import { parseFormat } from '../io/formats.ts';
import { makeRunner } from '../engine/execute.ts';
import { UsageError } from '../core/errors.ts';
import { humanBytes, output, planProgressBar, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('import <files...>')
    .description('import files (csv, tsv, jsonl, json, parquet, arrow; .gz too) as a new version of a dataset')
    .requiredOption('--name <dataset>', 'dataset to create or to add a version to')
    .option('--format <format>', 'override the format detected from the extension')
    .option('--append', 'keep the current version\'s rows and add these (shares its parts)')
    .option('--source <name>', 'source name recorded in each row\'s _source (default: the dataset name)')
    .option('--licence <licence>', 'licence of this data, carried in the lineage')
    .option('--owner <owner>', 'owner of this data')
    .option('--runner <runner>', '`local` or a Redis URL (redis://…) to run on BullMQ workers')
    .option('--queue <name>', 'BullMQ queue the workers listen on (with a Redis runner)')
    .addHelpText('after', "\nExamples:\n  $ sluice import data/impressions.csv --name impressions\n  $ sluice import 'logs/*.jsonl.gz' --name clicks --append --runner redis://127.0.0.1:6379")
    .action(async (files: string[], opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      if (opts.owner && !opts.licence) throw new UsageError('--owner needs --licence', { hint: 'give the licence the owner grants, e.g. --licence CC-BY-4.0' });
      await withProject(cmd, async (project, g) => {
        const runner = await makeRunner(project, opts.runner as string | undefined, opts.queue ? { queue: String(opts.queue) } : {});
        const bar = planProgressBar(g, 'import');
        const started = performance.now();
        try {
          const m = await importFiles(
            project,
            {
              name: String(opts.name),
              files,
              ...(opts.format ? { format: parseFormat(String(opts.format)) } : {}),
              append: Boolean(opts.append),
              ...(opts.source ? { source: String(opts.source) } : {}),
              ...(opts.licence
                ? { licence: { source: String(opts.source ?? opts.name), licence: String(opts.licence), ...(opts.owner ? { owner: String(opts.owner) } : {}) } }
                : {}),
            },
            runner,
            bar.onProgress,
          );
          bar.stop();
          const bytes = m.parts.reduce((n, p) => n + p.bytes, 0);
          const seconds = (performance.now() - started) / 1000;
          output(g, { dataset: m.dataset, version: m.version, rows: m.rows, parts: m.parts.length, bytes, seconds, runner: runner.name }, () =>
            `${m.dataset}@${m.version}: ${m.rows} rows in ${m.parts.length} part(s), ${humanBytes(bytes)} (${seconds.toFixed(1)} s)`,
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
