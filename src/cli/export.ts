// `sluice export <ref> --format … --out …`.
import type { Command } from 'commander';
import { exportVersion } from '../io/export.ts';
import { parseExportFormat } from '../io/formats.ts';
import { intOption, output, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('export <ref>')
    .description('write a version to a file: parquet, jsonl, csv, tsv, arrow (IPC), tfrecord, or webdataset tar shards (a folder)')
    .requiredOption('--format <format>', 'parquet | jsonl | csv | tsv | arrow | tfrecord | webdataset')
    .option('--image-column <col>', 'webdataset: the column holding image bytes (BLOB) or paths')
    .option('--shard-size <n>', 'webdataset: samples per tar shard (default 1000)', intOption('--shard-size'))
    .requiredOption('--out <path>', 'file to write')
    .addHelpText('after', '\nExample:\n  $ sluice export ads@3 --format csv --out ads.csv   # cells starting with = + - @ are quoted for spreadsheets')
    .action(async (ref: string, opts: { format: string; out: string; imageColumn?: string; shardSize?: number }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const r = await exportVersion(p, ref, parseExportFormat(opts.format), opts.out, { ...(opts.imageColumn ? { imageColumn: opts.imageColumn } : {}), ...(opts.shardSize ? { shardSize: opts.shardSize } : {}) });
        output(g, r, () => `wrote ${r.rows} rows of ${r.ref} to ${r.path}`);
      });
    });
}
