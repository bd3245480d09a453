// `sluice demo`: the whole data loop on a generated ad world: messy sources → curate → review →
// stats, split, rebalance → train v1 → mine → train v2 → score → serve an A/B split to simulated
// users → feedback join → live metrics → train v3 on what users did → shadow → promote → measure.
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
import { evaluate, mineHardNegatives, scoreAds, train } from '../demo/models.ts';
import { interactiveReview, simulateReview } from '../demo/reviewer.ts';
import cliProgress from 'cli-progress';
import { DEMO_JOIN, goLive, runJoin, simulateUsers, tick } from '../demo/live.ts';
import { freshTraffic } from '../demo/world.ts';
import { MODEL } from '../demo/models.ts';
import { importFiles } from '../io/import.ts';
import { computeMetrics } from '../feedback/metrics/run.ts';
import { buildTrainingData } from '../feedback/metrics/dataset.ts';
import { metricsHtml } from '../feedback/metrics/html.ts';
import { computeDrift } from '../analyze/drift.ts';
import { driftHtml } from '../analyze/report.ts';
import { demoIndexHtml } from '../demo/report.ts';
import YAML from 'yaml';
import { parseRef } from '../core/ref.ts';
import { scanSql } from '../core/dataset.ts';
import { globals, intOption, output, table } from './common.ts';

interface Step {
  step: string;
  rows: number;
  detail: string;
  seconds: number;
}

/** The demo's steps as one progress bar on a terminal (a line per step otherwise, nothing with --json). */
const DEMO_STEPS = 24;
function stepBar(g: { json?: boolean; quiet?: boolean }): { start: (step: string) => void; say: (line: string) => void; stop: () => void } {
  if (g.json || g.quiet) return { start: () => {}, say: (l) => process.stderr.write(l + '\n'), stop: () => {} };
  if (!process.stderr.isTTY) return { start: (step) => process.stderr.write(`• ${step}…\n`), say: (l) => process.stderr.write(l + '\n'), stop: () => {} };
  const bar = new cliProgress.SingleBar({ format: 'demo [{bar}] {value}/{total} {step} | {duration_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  let n = 0;
  bar.start(DEMO_STEPS, 0, { step: '' });
  return {
    start: (step) => bar.update(n++, { step }),
    say: (line) => void process.stderr.write('\n' + line + '\n'),
    stop: () => (bar.update(DEMO_STEPS), bar.stop()),
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the data loop on a generated ad world, start to finish')
    .option('--dir <dir>', 'folder for the demo project', 'sluice-demo')
    .option('--size <size>', 'tiny | small | medium', 'small')
    .option('--seed <n>', 'random seed', intOption('--seed'), 7)
    .option('--interactive', 'decide the review items yourself in the web UI (the demo waits for you)')
    .addHelpText('after', '\nExamples:\n  $ npx sluice demo --size tiny --dir /tmp/demo\n  $ npx sluice demo --interactive     (you decide the review items in the web UI)\nThen open <dir>/index.html: it links the stats, drift and live metrics pages.')
    .action(async (opts: { dir: string; size: string; seed: number; interactive?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (!(opts.size in SIZES)) throw new UsageError(`unknown size ${JSON.stringify(opts.size)}`, { hint: `use one of ${Object.keys(SIZES).join(', ')}` });
      const dir = resolve(opts.dir);
      if (existsSync(join(dir, 'sluice.yaml'))) throw new UsageError(`${dir} already holds a project`, { hint: 'pass another --dir, or remove that folder to run the demo again' });
      Project.init(dir, 'sluice-demo');
      process.env.SLUICE_QUIET_WARNINGS ??= g.json ? '1' : '0';
      const project = await Project.open(dir, g.threads ? { threads: g.threads } : {});
      const steps: Step[] = [];
      const bar = stepBar(g);
      const timed = async <T>(step: string, fn: () => Promise<T>, describe: (t: T) => { rows: number; detail: string }) => {
        const t0 = performance.now();
        bar.start(step);
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
        await timed('curate impressions (rules, quarantine, review)', () => curate(project, impressionsPipeline(world), dir, runner), (r) => ({
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
        const reviewStep = opts.interactive ? 'you decide every review item in the web UI; review apply' : 'a simulated reviewer decides every item; review apply';
        await timed(reviewStep, () => (opts.interactive ? interactiveReview(project, ['impressions', 'ads'], bar.say) : simulateReview(project, ['impressions', 'ads'])), (r) => ({
          rows: r.decided,
          detail: r.applied.map((a) => `${a.dataset}@${a.from} → @${a.to ?? a.from} (${a.added} added, ${a.replaced} replaced, ${a.removed} removed)`).join(', '),
        }));
        const report = join(dir, 'report.html');
        await timed('stats of impressions, label clicked', () => computeStats(project, 'impressions', { label: 'clicked', runner }), (s) => {
          writeFileSync(report, statsHtml(s));
          const pos = s.label?.classes.find((c) => c.value === 'true')?.count ?? 0;
          return { rows: s.rows, detail: `click rate ${((100 * pos) / s.rows).toFixed(2)}%, report ${report}` };
        });
        const split = await timed('split by time (train | pool from 10-15 | test from 10-22)', () => splitVersion(project, 'impressions', { byTime: 'ts', cutoffs: ['2026-10-15', '2026-10-22'], names: ['train', 'pool', 'test'], runner }), (r) => ({
          rows: r.splits.reduce((n, s) => n + s.rows, 0),
          detail: r.splits.map((s) => `${s.dataset}@${s.version} ${s.rows}`).join(', '),
        }));
        const [trainSplit, poolSplit, testSplit] = split.splits.map((s) => `${s.dataset}@${s.version}`) as [string, string, string];
        const balanced = await timed('rebalance train (oversample clicks to 1:5)', () => rebalanceVersion(project, trainSplit, { label: 'clicked', oversample: 0.2, runner }), (m) => ({
          rows: m.rows,
          detail: `${m.dataset}@${m.version}`,
        }));
        const balancedRef = `${balanced.dataset}@${balanced.version}`;
        const v1 = await timed('train v1 (logistic, calibrated back from 1:5)', () => train(project, balancedRef, poolSplit, opts.seed), (t) => ({
          rows: t.result.rows,
          detail: `${t.ref}: ${t.result.epochs} epochs, val log loss ${t.result.metrics.log_loss.toFixed(4)}, AUC ${t.result.metrics.auc.toFixed(3)}`,
        }));
        const poolRows = split.splits[1]!.rows;
        const mined = await timed('mine hard negatives in the pool with v1', () => mineHardNegatives(project, runner, v1.ref, poolSplit, balancedRef, Math.max(10, Math.round(poolRows * 0.05))), (r) => ({
          rows: r.picked,
          detail: `appended to ${r.manifest.dataset}@${r.manifest.version} (${r.manifest.rows} rows)`,
        }));
        const v2 = await timed('train v2 on train + mined negatives', () => train(project, `${mined.manifest.dataset}@${mined.manifest.version}`, poolSplit, opts.seed), (t) => ({
          rows: t.result.rows,
          detail: `${t.ref}: val log loss ${t.result.metrics.log_loss.toFixed(4)}, AUC ${t.result.metrics.auc.toFixed(3)}`,
        }));
        const held: Record<string, Awaited<ReturnType<typeof evaluate>>> = {};
        await timed('compare v1 and v2 on the held-out test split', async () => {
          held[v1.ref] = await evaluate(project, runner, v1.ref, testSplit);
          held[v2.ref] = await evaluate(project, runner, v2.ref, testSplit);
          return held;
        }, (h) => ({ rows: h[v1.ref]!.rows, detail: Object.entries(h).map(([m, x]) => `${m} log loss ${x.log_loss.toFixed(4)} AUC ${x.auc.toFixed(3)}`).join(' · ') }));
        await timed('score every ad for 200 users, top 10 by bid × pCTR', () => scoreAds(project, runner, v2.ref, 'impressions', dir, 200, 10), (r) => ({
          rows: r.manifest.rows,
          detail: `${r.pairs.toLocaleString()} pairs → ${r.manifest.dataset}@${r.manifest.version}`,
        }));
        // After launch: the world drifts; the server answers simulated users, the loop closes.
        writeFileSync(join(dir, 'feedback.yaml'), YAML.stringify(DEMO_JOIN));
        const users = Math.max(1000, Math.round(SIZES[opts.size as DemoSize] / 5));
        const fresh = await timed('fresh after-launch traffic for judging models (held out)', async () => {
          const path = await freshTraffic(duck, dir, Math.max(5000, users), opts.seed + 1);
          return importFiles(project, { name: 'fresh', files: [path] }, runner);
        }, (m) => ({ rows: m.rows, detail: `fresh@${m.version}: labeled by the drifted true model` }));
        let lastEvent = 0;
        const trafficAB = await timed('serve v2 and v1 in an A/B split to simulated users', async () => {
          const live = await goLive(project, { model: MODEL, ab: [{ ref: v2.ref, weight: 0.5 }, { ref: v1.ref, weight: 0.5 }], tag: 'ab' });
          try {
            const t = await simulateUsers(live, { model: MODEL, users, perRequest: 50, seed: opts.seed, tag: 'ab' });
            lastEvent = t.lastEventAt;
            await tick(live, t.lastEventAt, 'ab');
            return t;
          } finally {
            await live.close();
          }
        }, (t) => ({ rows: t.predictions, detail: `${t.requests} requests, ${t.predictions} predictions logged, ${t.clicks} clicks` }));
        await timed('feedback join (exactly once) → labeled examples', () => runJoin(project), (r) => ({
          rows: r.examples,
          detail: `feedback@${r.versions.at(-1) ?? '-'}: ${r.counts.positives ?? '?'} positives, ${r.counts.negatives ?? '?'} negatives`,
        }));
        const before = await timed('live metrics per version and arm', () => computeMetrics(project, { drift: false, compare: [v2.ref, v1.ref] }), (m) => ({
          rows: m.groups.reduce((n, x) => n + x.n, 0),
          detail: m.groups.map((x) => `${x.model}@${x.version} (${x.arm}): observed ${(100 * x.rate).toFixed(2)}% vs predicted ${(100 * x.mean_predicted).toFixed(2)}%`).join(' · '),
        }));
        const fbTrain = await timed('training data from feedback', () => buildTrainingData(project, { into: 'feedback-train' }), (m) => ({ rows: m.rows, detail: `${m.dataset}@${m.version}` }));
        const v3 = await timed('train v3 on what users did after launch', () => train(project, `${fbTrain.dataset}@${fbTrain.version}`, undefined, opts.seed, 'label'), (t) => ({
          rows: t.result.rows,
          detail: `${t.ref}: train log loss ${t.result.metrics.log_loss.toFixed(4)}`,
        }));
        const judged: Record<string, Awaited<ReturnType<typeof evaluate>>> = {};
        await timed('judge v1, v2, v3 on fresh after-launch traffic', async () => {
          for (const m of [v1.ref, v2.ref, v3.ref]) judged[m] = await evaluate(project, runner, m, `fresh@${fresh.version}`);
          return judged;
        }, (h) => ({ rows: h[v1.ref]!.rows, detail: Object.entries(h).map(([m, x]) => `${m} log loss ${x.log_loss.toFixed(4)} AUC ${x.auc.toFixed(3)}`).join(' · ') }));
        const incumbent = judged[v2.ref]!.log_loss <= judged[v1.ref]!.log_loss ? v2.ref : v1.ref;
        const promoted = judged[v3.ref]!.log_loss < judged[incumbent]!.log_loss ? v3.ref : incumbent;
        const trafficShadow = await timed(`shadow-score v3 beside ${incumbent}; promote ${promoted}`, async () => {
          const live = await goLive(project, { model: incumbent, shadow: v3.ref, tag: 'shadow' });
          try {
            const t = await simulateUsers(live, { model: MODEL, users: Math.round(users / 2), perRequest: 50, seed: opts.seed + 2, tag: 'shadow' });
            lastEvent = Math.max(lastEvent, t.lastEventAt);
            await tick(live, lastEvent, 'shadow');
            return t;
          } finally {
            await live.close();
          }
        }, (t) => ({ rows: t.predictions, detail: `${t.predictions} answered by ${incumbent}, the same scored by ${v3.ref} in the shadow (logged, never shown)` }));
        void trafficShadow;
        const trafficAfter = await timed(`serve ${promoted} to simulated users`, async () => {
          const live = await goLive(project, { model: promoted, tag: 'after' });
          try {
            const t = await simulateUsers(live, { model: MODEL, users, perRequest: 50, seed: opts.seed + 3, tag: 'after' });
            lastEvent = Math.max(lastEvent, t.lastEventAt);
            await tick(live, lastEvent, 'after');
            return t;
          } finally {
            await live.close();
          }
        }, (t) => ({ rows: t.predictions, detail: `${t.predictions} predictions, ${t.clicks} clicks` }));
        await timed('feedback join again', () => runJoin(project), (r) => ({ rows: r.examples, detail: `feedback@${r.versions.at(-1) ?? '-'}` }));
        const after = await timed('live metrics, before and after', () => computeMetrics(project, { drift: false, compare: [v2.ref, v1.ref] }), (m) => ({
          rows: m.groups.reduce((n, x) => n + x.n, 0),
          detail: m.groups.map((x) => `${x.model}@${x.version} (${x.arm}) log loss ${x.log_loss.toFixed(4)}`).join(' · '),
        }));
        writeFileSync(join(dir, 'metrics.html'), metricsHtml(after, 'sluice demo: live metrics'));
        // Serving drift: what users looked like before launch (training data) against after (feedback).
        const drift = await computeDrift(project, await project.catalog.resolve(parseRef(trainSplit)), await project.catalog.resolve(parseRef('feedback')), { features: ['device', 'country', 'bid'] });
        writeFileSync(join(dir, 'drift.html'), driftHtml(drift));
        const index = join(dir, 'index.html');
        writeFileSync(index, demoIndexHtml({ steps, before, after, judged, promoted }));
        const clicks = trafficAB.clicks + trafficShadow.clicks + trafficAfter.clicks;
        const fb = await project.catalog.resolve(parseRef('feedback'));
        const [labels] = await duck.all<{ positives: number; examples: number }>(
          `SELECT count(*) FILTER (label = 1) AS positives, count(*) AS examples FROM (${scanSql(project.dataDir, fb)}) WHERE NOT ends_with(prediction_id, '/shadow')`,
        );
        const loop = { clicks, positives: labels!.positives, examples: labels!.examples, predictions: trafficAB.predictions + trafficShadow.predictions + trafficAfter.predictions, promoted, judged, v1: v1.ref, v2: v2.ref, v3: v3.ref };
        bar.stop();
        output(g, { dir, report: index, steps, loop }, () =>
          [
            '',
            table(steps.map((s) => [s.step, s.rows, s.seconds.toFixed(2), s.detail]), ['step', 'rows', 'seconds', 'what happened']),
            '',
            table(
              Object.entries(judged).map(([m, x]) => [m, x.log_loss.toFixed(4), x.auc.toFixed(3), (100 * x.mean_score).toFixed(2) + '%', (100 * x.positive_rate).toFixed(2) + '%', m === promoted ? 'serving' : '']),
              ['model', 'log loss (fresh)', 'AUC (fresh)', 'predicted rate', 'observed rate', ''],
            ),
            '',
            table(
              after.groups.map((x) => [`${x.model}@${x.version}`, x.arm, x.n, (100 * x.rate).toFixed(2) + '%', (100 * x.mean_predicted).toFixed(2) + '%', x.log_loss.toFixed(4)]),
              ['live: model', 'arm', 'examples', 'observed CTR', 'predicted CTR', 'log loss'],
            ),
            '',
            `drift after launch: ${drift.features.filter((f) => f.drifted).map((f) => f.name).join(', ') || 'none'} (${join(dir, 'drift.html')})`,
            `project: ${dir}`,
            `look at: ${index} (links the stats, drift and metrics pages) · sluice --project ${opts.dir} datasets · sluice --project ${opts.dir} feedback metrics`,
          ].join('\n'),
        );
      } finally {
        await project.close();
      }
    });
}
