// `sluice curate <pipeline.yaml>`: ingest every source into the target schema, with exact accounting.
import type { Command } from 'commander';
import { loadPipeline } from '../curate/pipeline.ts';
import { curate } from '../curate/curate.ts';
import { makeRunner } from '../engine/execute.ts';
import { warnings } from '../core/warn.ts';
import { output, planProgressBar, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('curate <pipeline>')
    .description('ingest a pipeline\'s sources into a new version of its target dataset; bad records go to <target>-quarantine')
    .option('--runner <runner>', '`local` or a Redis URL (redis://…) to run on BullMQ workers')
    .option('--queue <name>', 'BullMQ queue name (with a Redis runner)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sluice curate examples/ads/pipelines/impressions.yaml\n  $ sluice curate pipelines/ads.yaml --json   # summary per source and file\n\nRerunning with new files ingests only the files not seen before (by content hash).',
    )
    .action(async (file: string, opts: { runner?: string; queue?: string }, cmd: Command) => {
      const { pipeline, baseDir } = loadPipeline(file);
      await withProject(cmd, async (project, g) => {
        const runner = await makeRunner(project, opts.runner, opts.queue ? { queue: opts.queue } : {});
        const bar = planProgressBar(g, `curate ${pipeline.target}`);
        try {
          const r = await curate(project, pipeline, baseDir, runner, bar.onProgress);
          bar.stop();
          const total = r.stats.reduce(
            (a, s) => ({ records: a.records + s.records, accepted: a.accepted + s.accepted, quarantined: a.quarantined + s.quarantined, review: a.review + s.review }),
            { records: 0, accepted: 0, quarantined: 0, review: 0 },
          );
          const rules: Record<string, number> = {};
          for (const s of r.stats) for (const [k, v] of Object.entries(s.rules)) rules[k] = (rules[k] ?? 0) + v;
          const run = (r.manifest?.extra?.run ?? {}) as { duplicates?: number; superseded?: number };
          const summary = {
            duplicates: run.duplicates ?? 0,
            superseded: run.superseded ?? 0,
            dataset: r.manifest ? `${r.manifest.dataset}@${r.manifest.version}` : null,
            rows: r.manifest?.rows ?? null,
            ...total,
            rules,
            files: r.stats.map(({ quarantine: _q, reviewFile: _r, ...s }) => s),
            skipped: r.skipped,
            warnings,
          };
          output(g, summary, () =>
            r.manifest === null
              ? `nothing new: all ${r.skipped.length} file(s) were ingested before`
              : [
                  table(
                    r.stats.map((s) => [s.source, s.file, s.records, s.accepted, s.quarantined, s.review, Object.entries(s.reasons).map(([k, v]) => `${k}:${v}`).join(' ')]),
                    ['source', 'file', 'records', 'accepted', 'quarantined', 'review', 'quarantined by field/reason'],
                  ),
                  ...(Object.keys(rules).length ? ['', `rules fired: ${Object.entries(rules).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
                  '',
                  `${summary.dataset}: ${r.manifest.rows} rows (+${total.accepted} this run); ${total.quarantined} quarantined → ${pipeline.target}-quarantine; ${total.review} for review` +
                    (pipeline.dedupe ? `; ${summary.duplicates} duplicates → ${pipeline.target}-duplicates (${summary.superseded} older rows superseded)` : '') +
                    (r.skipped.length ? `; ${r.skipped.length} file(s) already ingested, skipped` : ''),
                ].join('\n'),
          );
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}
