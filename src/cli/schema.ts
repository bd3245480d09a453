// `sluice schema infer <ref>` and `sluice schema validate <ref> --schema <file>` (TFDV-style anomalies).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { computeStats } from '../analyze/stats.ts';
import { inferSchema, readSchema, validateSchema } from '../analyze/schema.ts';
import { InputError } from '../core/errors.ts';
import { parseRef } from '../core/ref.ts';
import { output, table, withProject } from './common.ts';

export function register(program: Command): void {
  const schema = program.command('schema').description('infer a schema from a version, or validate a version against one');
  schema
    .command('infer <ref>')
    .description('write types, presence, domains and ranges of a version as a schema file')
    .option('--out <file>', 'schema file to write (default: print it)')
    .addHelpText('after', '\nExample:\n  $ sluice schema infer ads@3 --out ads.schema.json')
    .exitOverride()
    .action(async (ref: string, opts: { out?: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const s = inferSchema(await computeStats(p, ref));
        const text = JSON.stringify(s, null, 2) + '\n';
        if (opts.out) writeFileSync(resolve(opts.out), text);
        output(g, s, () => (opts.out ? `wrote the schema of ${s.source} (${s.features.length} features) to ${resolve(opts.out)}` : text));
      });
    });
  schema
    .command('validate <ref>')
    .description('list anomalies of a version against a schema: new values, out of range, missing presence, type changes; exit code 1 if any')
    .requiredOption('--schema <file>', 'schema file written by `sluice schema infer`')
    .addHelpText('after', '\nExample:\n  $ sluice schema validate ads@4 --schema ads.schema.json')
    .exitOverride()
    .action(async (ref: string, opts: { schema: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const s = readSchema(resolve(opts.schema));
        const m = await p.catalog.resolve(parseRef(ref));
        const anomalies = await validateSchema(p, m, s);
        const where = `${m.dataset}@${m.version}`;
        output(g, { ref: where, schema: resolve(opts.schema), anomalies }, () =>
          anomalies.length ? table(anomalies.map((a) => [a.column, a.kind, a.message]), ['column', 'anomaly', 'detail']) : `${where}: no anomalies against ${opts.schema}`,
        );
        if (anomalies.length) throw new InputError(`${anomalies.length} anomal${anomalies.length === 1 ? 'y' : 'ies'} in ${where} against ${opts.schema}`, { hint: 'fix the data, or update the schema if the change is expected' });
      });
    });
}
