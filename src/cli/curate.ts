// `sluice curate <pipeline.yaml>`: ingest every source into the target schema, with exact accounting.
import type { Command } from 'commander';
import { loadPipeline } from '../curate/pipeline.ts';
import { curate } from '../curate/curate.ts';
import { OUTCOMES, type Outcome } from '../curate/summary.ts';
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
      '\nExamples:\n  $ sluice curate examples/ads/pipelines/impressions.yaml\n  $ sluice curate pipelines/ads.yaml --json   # counts per source × outcome, per rule and per file\n\nRerunning with new files ingests only the files not seen before (by content hash).',
    )
    .action(async (file: string, opts: { runner?: string; queue?: string }, cmd: Command) => {
      const { pipeline, baseDir } = loadPipeline(file);
      await withProject(cmd, async (project, g) => {
        const runner = await makeRunner(project, opts.runner, opts.queue ? { queue: opts.queue } : {});
        const bar = planProgressBar(g, `curate ${pipeline.target}`);
        try {
          const r = await curate(project, pipeline, baseDir, runner, bar.onProgress);
          bar.stop();
          const out = r.summary.sources;
          const total = Object.fromEntries(['records', ...OUTCOMES].map((k) => [k, out.reduce((n, s) => n + s[k as 'records'], 0)])) as Record<'records' | Outcome, number>;
          const rules = Object.fromEntries(r.summary.rules.map((x) => [x.id, x.fired]));
          const run = (r.manifest?.extra?.run ?? {}) as { superseded?: number };
          const summary = {
            dataset: r.manifest ? `${r.manifest.dataset}@${r.manifest.version}` : null,
            rows: r.manifest?.rows ?? null,
            ...total,
            duplicates: total.duplicate,
            superseded: run.superseded ?? 0,
            /** per source × outcome; records = accepted + quarantined + review + duplicate (checked before the commit) */
            sources: out,
            rules,
            rule_counts: r.summary.rules,
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
                    ['source', 'file', 'records', 'passed', 'quarantined', 'review', 'quarantined by field/reason'],
                  ),
                  '',
                  table(
                    [...out.map((s) => [s.source, s.files, s.records, ...OUTCOMES.map((o) => s[o])]), ['total', r.stats.length, total.records, ...OUTCOMES.map((o) => total[o])]],
                    ['source', 'files', 'records', ...OUTCOMES],
                  ),
                  ...(r.summary.rules.length ? ['', table(r.summary.rules.map((x) => [x.id, x.action, x.fired]), ['rule', 'action', 'fired'])] : []),
                  '',
                  `${summary.dataset}: ${r.manifest.rows} rows (+${total.accepted} this run); ${total.quarantined} quarantined → ${pipeline.target}-quarantine; ${total.review} for review` +
                    (pipeline.dedupe ? `; ${total.duplicate} duplicates → ${pipeline.target}-duplicates (${summary.superseded} older rows superseded)` : '') +
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
