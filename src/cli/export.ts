// `sluice export <ref> --format … --out …`.
import type { Command } from 'commander';
import { exportVersion } from '../io/export.ts';
import { parseFormat } from '../io/formats.ts';
import { output, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('export <ref>')
    .description('write a version to a file: parquet, jsonl, csv, tsv or arrow (IPC)')
    .requiredOption('--format <format>', 'parquet | jsonl | csv | tsv | arrow')
    .requiredOption('--out <path>', 'file to write')
    .addHelpText('after', '\nExample:\n  $ sluice export ads@3 --format csv --out ads.csv   # cells starting with = + - @ are quoted for spreadsheets')
    .action(async (ref: string, opts: { format: string; out: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const r = await exportVersion(p, ref, parseFormat(opts.format), opts.out);
        output(g, r, () => `wrote ${r.rows} rows of ${r.ref} to ${r.path}`);
      });
    });
}
