// `sluice feedback metrics` (live model metrics, A/B verdicts, serving drift; --html, --serve) and
// `sluice feedback dataset` (training data from feedback, joined point in time), in the feedback group.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { feedbackGroup } from './feedback-group.ts';
import { intOption, output, table, withProject } from './common.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const f4 = (v: number | null) => (v === null ? '—' : v.toFixed(4));

interface MetricsFlags {
  model?: string;
  since?: string;
  from?: string;
  slice?: string[];
  per?: string;
  compare?: string;
  training?: string;
  drift?: boolean;
  html?: string;
  serve?: boolean;
  port?: number;
  track?: string;
}

export function register(program: Command): void {
  const group = feedbackGroup(program);
  group
    .command('metrics')
    .description('live model metrics per version × arm × time × slice, the A/B comparison, calibration and serving drift')
    .option('--model <name>', 'only this model')
    .option('--since <time>', 'only predictions from then on: a date, a time, epoch ms, or a span (24h, 7d)')
    .option('--from <ref>', 'recompute from a feedback version (e.g. feedback@3) instead of the incremental state')
    .option('--slice <field>', 'a logged field to slice by (repeatable)', collect)
    .option('--per <unit>', 'time bucket of the charts and timeline: day or hour', 'day')
    .option('--compare <a,b>', 'the two arms to compare (default: when a model has exactly two)')
    .option('--training <ref>', "training data for serving drift (default: the model's trained_on)")
    .option('--no-drift', 'skip serving drift')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--track <fields>', 'set the logged fields the live (incremental) metrics slice by, comma-separated, for examples emitted from now on ("" for none)')
    .option('--serve', 'serve the metrics web page on 127.0.0.1 (token printed) instead of printing')
    .option('--port <n>', 'port for --serve (default 7071)', intOption('--port'))
    .addHelpText('after', '\nExamples:\n  $ sluice feedback metrics --model ctr --since 7d --html metrics.html\n  $ sluice feedback metrics --from feedback@4 --slice country --json\n  $ sluice feedback metrics --track country,device      # live metrics slice by these from now on\n  $ sluice feedback metrics --serve --port 7071')
    .action(async (f: MetricsFlags, cmd: Command) => {
      if (f.per !== 'day' && f.per !== 'hour') throw new UsageError(`--per must be day or hour, got ${JSON.stringify(f.per)}`);
      const compare = f.compare?.split(',').map((s) => s.trim());
      if (compare && (compare.length !== 2 || !compare[0] || !compare[1])) throw new UsageError(`--compare takes two arm names, e.g. --compare A,B; got ${JSON.stringify(f.compare)}`);
      const { computeMetrics } = await import('../feedback/metrics/run.ts');
      const { parseSince } = await import('../feedback/metrics/since.ts');
      await withProject(cmd, async (p, g) => {
        if (f.track !== undefined) {
          const { openFeedbackDb } = await import('../feedback/metrics/read.ts');
          const { ensureMetricsSchema } = await import('../feedback/metrics/accumulate.ts');
          const db = openFeedbackDb(p);
          try {
            await ensureMetricsSchema(db, { slices: f.track.split(',').map((x) => x.trim()).filter(Boolean) });
          } finally {
            await db.close();
          }
        }
        const opts = {
          ...(f.model ? { model: f.model } : {}),
          ...(f.since ? { since: parseSince(f.since) } : {}),
          ...(f.from ? { from: f.from } : {}),
          ...(f.slice ? { slices: f.slice } : {}),
          ...(compare ? { compare: compare as [string, string] } : {}),
          ...(f.training ? { training: f.training } : {}),
          granularity: f.per as 'day' | 'hour',
          drift: f.drift !== false,
        };
        if (f.serve) {
          const { metricsServer } = await import('../feedback/metrics/server.ts');
          const token = process.env.SLUICE_METRICS_TOKEN ?? randomBytes(18).toString('base64url');
          const app = await metricsServer({ project: p, token, defaults: opts });
          const url = await app.listen({ host: '127.0.0.1', port: f.port ?? 7071 });
          process.stderr.write(`metrics page: ${url}/#token=${token}\n(Ctrl-C stops it)\n`);
          await new Promise<void>((done) => process.once('SIGINT', () => void app.close().then(done)));
          return;
        }
        let s;
        try {
          s = await computeMetrics(p, opts);
        } catch (e) {
          // --track on a project with no feedback yet is a setup step, not a failure
          if (f.track === undefined || !(e instanceof UsageError) || !e.message.startsWith('no feedback to measure')) throw e;
          output(g, { tracking: f.track.split(',').map((x) => x.trim()).filter(Boolean) }, () => `live metrics will slice by: ${f.track || '(nothing)'}`);
          return;
        }
        if (f.html) {
          const { metricsHtml } = await import('../feedback/metrics/html.ts');
          writeFileSync(resolve(f.html), metricsHtml(s));
        }
        output(g, s, () =>
          [
            `source: ${s.source}`,
            table(s.groups.map((x) => [`${x.model}@${x.version}`, x.arm, x.n, pct(x.rate), pct(x.mean_predicted), f4(x.log_loss), f4(x.auc), f4(x.ece), x.ranked ? pct(x.hits['1'] ?? 0) : '']), ['model', 'arm', 'examples', 'rate', 'mean predicted', 'log loss', 'AUC', 'ECE', 'hit@1']),
            ...s.comparisons.flatMap((c) => [
              `A/B ${c.model}: ${c.b} − ${c.a}: rate ${(c.rate.diff * 100).toFixed(2)} pt [${(c.rate.low * 100).toFixed(2)}, ${(c.rate.high * 100).toFixed(2)}], log loss ${c.log_loss.diff.toFixed(4)} [${c.log_loss.low.toFixed(4)}, ${c.log_loss.high.toFixed(4)}]`,
              ...(c.verdicts.length ? c.verdicts.map((v) => `  verdict: ${v}`) : ['  no verdict: every 95% interval includes zero']),
            ]),
            ...(s.drift ? [`serving drift vs ${s.drift.training}: ${s.drift.days.filter((d) => d.anomaly).length} anomalous feature-day(s) of ${s.drift.days.length}`, ...s.drift.days.filter((d) => d.anomaly).map((d) => `  ${d.day} ${d.feature}: ${d.anomaly}`)] : []),
            ...(f.html ? [`report: ${resolve(f.html)}`] : []),
          ].join('\n'),
        );
      });
    });

  group
    .command('dataset')
    .description('a training version from feedback examples, optionally joined point in time with other datasets')
    .requiredOption('--into <name>', 'the dataset to write (a new version)')
    .option('--from <ref>', 'the feedback version (default feedback@latest)')
    .option('--join <ref>', 'a dataset to join as of each prediction time (repeatable; pair each with --on and --asof)', collect)
    .option('--on <key>', 'join key: a logged field of the same name in the dataset, or field=column (repeatable, one per --join; a,b for several)', collect)
    .option('--asof <column>', "the joined dataset's valid-from time column (one per --join)", collect)
    .option('--model <name>', 'only this model')
    .option('--since <time>', 'only predictions from then on')
    .addHelpText('after', '\nExample:\n  $ sluice feedback dataset --from feedback@4 --join user-features@latest --on user_id --asof valid_from --into ctr-train')
    .action(async (f: { into: string; from?: string; join?: string[]; on?: string[]; asof?: string[]; model?: string; since?: string }, cmd: Command) => {
      const joins = f.join ?? [];
      if ((f.on?.length ?? 0) !== joins.length || (f.asof?.length ?? 0) !== joins.length) {
        throw new UsageError(`each --join needs one --on and one --asof: got ${joins.length} --join, ${f.on?.length ?? 0} --on, ${f.asof?.length ?? 0} --asof`);
      }
      const { buildTrainingData } = await import('../feedback/metrics/dataset.ts');
      const { parseSince } = await import('../feedback/metrics/since.ts');
      await withProject(cmd, async (p, g) => {
        const m = await buildTrainingData(p, {
          into: f.into,
          ...(f.from ? { from: f.from } : {}),
          ...(f.model ? { model: f.model } : {}),
          ...(f.since ? { since: parseSince(f.since) } : {}),
          joins: joins.map((dataset, i) => ({
            dataset,
            on: f.on![i]!.split(',').map((k) => {
              const [field, col] = k.split('=').map((s) => s.trim());
              return [field!, col ?? field!] as [string, string];
            }),
            as_of: f.asof![i]!,
          })),
        });
        output(g, { dataset: m.dataset, version: m.version, rows: m.rows, parents: m.parents, lineage: m.extra?.lineage }, () =>
          `${m.dataset}@${m.version}: ${m.rows} examples from ${m.parents.join(' + ')} (models ${((m.extra?.lineage as { models?: string[] })?.models ?? []).join(', ')})\ntrain on it: sluice train --baseline logistic --features <spec.yaml> --data ${m.dataset}@${m.version} --label label`,
        );
      });
    });
}
