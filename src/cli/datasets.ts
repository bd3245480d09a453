// `sluice datasets`, `sluice show <ref>`, `sluice diff <a> <b>`: looking at what the catalog holds.
import type { Command } from 'commander';
import { diffVersions, showVersion } from '../core/inspect.ts';
import { humanBytes, output, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('datasets')
    .description('list datasets with their head version and row count')
    .addHelpText('after', '\nExample:\n  $ sluice datasets --json')
    .action(async (_opts: unknown, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const ds = await p.catalog.listDatasets();
        output(g, ds, () => (ds.length ? table(ds.map((d) => [d.name, d.head, d.rows, d.updated_at]), ['dataset', 'head', 'rows', 'updated']) : 'no datasets yet: sluice import <file> --name <dataset>'));
      });
    });

  program
    .command('show <ref>')
    .description('schema, counts, lineage, versions, tags and sample rows of a version')
    .option('--rows <n>', 'sample rows to show', '5')
    .addHelpText('after', '\nExamples:\n  $ sluice show ads          # the latest version\n  $ sluice show ads@3 --json')
    .action(async (ref: string, opts: { rows: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const s = await showVersion(p, ref, Number(opts.rows) || 0);
        output(g, s, () =>
          [
            `${s.dataset}@${s.version}  ${s.rows} rows  ${s.parts} part(s)  ${humanBytes(s.bytes)}  created ${s.created_at}`,
            `operation: ${s.operation} (config ${s.config_hash})  parents: ${s.parents.join(', ') || '(none)'}`,
            s.licences.length ? `licences: ${s.licences.map((l) => `${l.source}: ${l.licence}${l.owner ? ` (${l.owner})` : ''}`).join('; ')}` : '',
            '',
            table(s.schema.map((c) => [c.name, c.type, c.nullable ? 'null' : 'not null']), ['column', 'type', 'nulls']),
            '',
            `versions: ${s.versions.map((v) => `${v.version} (${v.operation}, ${v.rows})`).join(', ')}`,
            s.tags.length ? `tags: ${s.tags.map((t) => `${t.tag}→${t.version}`).join(', ')}` : '',
            '',
            s.sample.length ? table(s.sample.map((r) => Object.values(r).map(cell)), Object.keys(s.sample[0]!)) : '',
          ]
            .filter((l, i, a) => l !== '' || a[i - 1] !== '')
            .join('\n'),
        );
      });
    });

  program
    .command('diff <a> <b>')
    .description('schema changes and rows added and removed (by _id) between two versions')
    .addHelpText('after', '\nExample:\n  $ sluice diff ads@2 ads@3')
    .action(async (a: string, b: string, _opts: unknown, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const d = await diffVersions(p, a, b);
        output(g, d, () =>
          [
            `${d.a} → ${d.b}: ${d.rows.a} → ${d.rows.b} rows; +${d.rows.added} added, -${d.rows.removed} removed, ${d.rows.kept} kept; ${d.sharedParts} shared part(s)`,
            ...d.schema.added.map((c) => `  + column ${c.name} ${c.type}`),
            ...d.schema.removed.map((c) => `  - column ${c.name} ${c.type}`),
            ...d.schema.changed.map((c) => `  ~ column ${c.name}: ${c.from} → ${c.to}`),
            d.sample.added.length ? `  added e.g.: ${d.sample.added.join(', ')}` : '',
            d.sample.removed.length ? `  removed e.g.: ${d.sample.removed.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      });
    });
}

function cell(v: unknown): string {
  const s = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  return s.length > 40 ? s.slice(0, 39) + '…' : s;
}
