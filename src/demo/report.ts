// The demo's front page (index.html): what each step did, how the models compare on fresh traffic
// and live, with charts, and links to the stats, drift and metrics pages the demo wrote beside it.
import { page } from '../analyze/report.ts';
import { barChart, escapeXml as esc } from '../analyze/svg.ts';
import type { MetricsSummary } from '../feedback/metrics/summary.ts';
import type { BinaryMetrics } from '../model/train/metrics.ts';

export interface DemoReport {
  steps: { step: string; rows: number; detail: string; seconds: number }[];
  before: MetricsSummary;
  after: MetricsSummary;
  judged: Record<string, BinaryMetrics & { rows: number }>;
  promoted: string;
}

const table = (head: string[], rows: (string | number)[][]) =>
  `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('')}</table>`;

export function demoIndexHtml(r: DemoReport): string {
  const models = Object.keys(r.judged);
  const live = r.after.groups;
  const body = [
    `<p>Pages: <a href="report.html">statistics of the curated impressions</a> · <a href="drift.html">serving drift (before vs after launch)</a> · <a href="metrics.html">live metrics per version and arm</a></p>`,
    '<h2>Models on fresh after-launch traffic</h2>',
    `<p>${esc(r.promoted)} serves now: it had the lowest log loss on traffic no model had seen.</p>`,
    table(
      ['model', 'log loss', 'AUC', 'predicted rate', 'observed rate'],
      models.map((m) => [m, r.judged[m]!.log_loss.toFixed(4), r.judged[m]!.auc.toFixed(3), `${(100 * r.judged[m]!.mean_score).toFixed(2)}%`, `${(100 * r.judged[m]!.positive_rate).toFixed(2)}%`]),
    ),
    barChart({ title: 'log loss on fresh traffic (lower is better)', labels: models, series: [{ name: 'log loss', values: models.map((m) => r.judged[m]!.log_loss), color: '#4c78a8' }] }),
    '<h2>Live: what users did with each version</h2>',
    table(
      ['model', 'arm', 'examples', 'observed CTR', 'predicted CTR', 'log loss'],
      live.map((g) => [`${g.model}@${g.version}`, g.arm, g.n, `${(100 * g.rate).toFixed(2)}%`, `${(100 * g.mean_predicted).toFixed(2)}%`, g.log_loss.toFixed(4)]),
    ),
    barChart({
      title: 'observed vs predicted click rate, live',
      labels: live.map((g) => `${g.model}@${g.version} ${g.arm}`),
      series: [
        { name: 'observed', values: live.map((g) => g.rate), color: '#4c78a8' },
        { name: 'predicted', values: live.map((g) => g.mean_predicted), color: '#f58518' },
      ],
    }),
    '<h2>Steps</h2>',
    table(['step', 'rows', 'seconds', 'what happened'], r.steps.map((s) => [s.step, s.rows, s.seconds.toFixed(2), s.detail])),
  ].join('\n');
  return page('sluice demo: the whole loop', body);
}
