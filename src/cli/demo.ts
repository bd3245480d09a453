// `sluice demo`: the data loop on a generated ad world. Today: messy sources → curate (rules,
// quarantine, duplicates, a catalog conflict routed to review) → stats report → split by time →
// rebalance. The later stages (train, mine, score, serve, feedback) join as they land.
import type { Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Project } from '../core/project.ts';
import { UsageError } from '../core/errors.ts';
import { LocalRunner } from '../engine/runners/local.ts';
import { curate } from '../curate/curate.ts';
import { computeStats } from '../analyze/stats.ts';
import { statsHtml } from '../analyze/report.ts';
import { splitVersion } from '../analyze/split.ts';
import { rebalanceVersion } from '../analyze/rebalance.ts';
import { generateWorld, SIZES, type DemoSize } from '../demo/world.ts';
import { adsPipeline, clicksPipeline, impressionsPipeline } from '../demo/pipelines.ts';
import { globals, intOption, output, table } from './common.ts';

interface Step {
  step: string;
  rows: number;
  detail: string;
  seconds: number;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the data loop on a generated ad world, start to finish')
    .option('--dir <dir>', 'folder for the demo project', 'sluice-demo')
    .option('--size <size>', 'tiny | small | medium', 'small')
    .option('--seed <n>', 'random seed', intOption('--seed'), 7)
    .addHelpText('after', '\nExample:\n  $ npx sluice demo --size tiny --dir /tmp/demo')
    .action(async (opts: { dir: string; size: string; seed: number }, cmd: Command) => {
      const g = globals(cmd);
      if (!(opts.size in SIZES)) throw new UsageError(`unknown size ${JSON.stringify(opts.size)}`, { hint: `use one of ${Object.keys(SIZES).join(', ')}` });
      const dir = resolve(opts.dir);
      if (existsSync(join(dir, 'sluice.yaml'))) throw new UsageError(`${dir} already holds a project`, { hint: 'pass another --dir, or remove that folder to run the demo again' });
      Project.init(dir, 'sluice-demo');
      process.env.SLUICE_QUIET_WARNINGS ??= g.json ? '1' : '0';
      const project = await Project.open(dir, g.threads ? { threads: g.threads } : {});
      const steps: Step[] = [];
      const timed = async <T>(step: string, fn: () => Promise<T>, describe: (t: T) => { rows: number; detail: string }) => {
        const t0 = performance.now();
        if (!g.json && !g.quiet) process.stderr.write(`• ${step}…\n`);
        const r = await fn();
        steps.push({ step, ...describe(r), seconds: (performance.now() - t0) / 1000 });
        return r;
      };
      try {
        const duck = await project.duck();
        const runner = new LocalRunner(duck, project.catalog);
        const world = await timed('generate messy sources', () => generateWorld(duck, dir, opts.size as DemoSize, opts.seed), (w) => ({
          rows: w.rows,
          detail: `${w.damaged.impressions + w.damaged.clicks} damaged records planted`,
        }));
        const run = (m: { extra?: Record<string, unknown> } | null) => (m?.extra?.run ?? {}) as Record<string, number>;
        const imp = await timed('curate impressions (rules, quarantine, review)', () => curate(project, impressionsPipeline(world), dir, runner), (r) => ({
          rows: r.manifest!.rows,
          detail: `${run(r.manifest).records} records: ${run(r.manifest).accepted} accepted, ${run(r.manifest).quarantined} quarantined, ${run(r.manifest).review} to review`,
        }));
        await timed('curate clicks (duplicates by click_id)', () => curate(project, clicksPipeline(world), dir, runner), (r) => ({
          rows: r.manifest!.rows,
          detail: `${run(r.manifest).records} records: ${run(r.manifest).duplicates} duplicates, ${run(r.manifest).quarantined} quarantined`,
        }));
        await timed('curate ads (two catalogs that disagree)', () => curate(project, adsPipeline(world), dir, runner), (r) => ({
          rows: r.manifest!.rows,
          detail: `${run(r.manifest).conflicts} conflicting ads sent to review`,
        }));
        const report = join(dir, 'report.html');
        await timed('stats of impressions, label clicked', () => computeStats(project, `impressions@${imp.manifest!.version}`, { label: 'clicked', runner }), (s) => {
          writeFileSync(report, statsHtml(s));
          const pos = s.label?.classes.find((c) => c.value === 'true')?.count ?? 0;
          return { rows: s.rows, detail: `click rate ${((100 * pos) / s.rows).toFixed(2)}%, report ${report}` };
        });
        const split = await timed('split by time (train before 2026-10-22)', () => splitVersion(project, 'impressions', { byTime: 'ts', cutoffs: ['2026-10-22'], names: ['train', 'test'], runner }), (r) => ({
          rows: r.splits.reduce((n, s) => n + s.rows, 0),
          detail: r.splits.map((s) => `${s.dataset}@${s.version} ${s.rows}`).join(', '),
        }));
        const train = split.splits[0]!;
        await timed('rebalance train (oversample clicks to 1:5)', () => rebalanceVersion(project, `${train.dataset}@${train.version}`, { label: 'clicked', oversample: 0.2, runner }), (m) => ({
          rows: m.rows,
          detail: `${m.dataset}@${m.version}`,
        }));
        output(g, { dir, report, steps }, () =>
          [
            '',
            table(steps.map((s) => [s.step, s.rows, s.seconds.toFixed(2), s.detail]), ['step', 'rows', 'seconds', 'what happened']),
            '',
            `project: ${dir}`,
            `look at: ${report} · sluice --project ${opts.dir} datasets · sluice --project ${opts.dir} review serve (after: review add-reviewer you)`,
            'next in the loop (not built yet): train, mine hard examples, score, serve, feedback',
          ].join('\n'),
        );
      } finally {
        await project.close();
      }
    });
}
