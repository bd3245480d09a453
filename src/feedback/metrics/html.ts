// The metrics report as HTML: per version × arm tables, the A/B comparison with its verdicts,
// charts over time, calibration curves, picked positions, slices and serving drift. The same body
// goes into the standalone file (`--html`) and the web UI's metrics page.
import { page } from '../../analyze/report.ts';
import { barChart, escapeXml as esc } from '../../analyze/svg.ts';
import { COLORS, lineChart } from './charts.ts';
import type { Interval } from './compare.ts';
import type { MetricsSummary } from './summary.ts';

const f4 = (v: number | null) => (v === null ? '—' : v.toFixed(4));
const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const label = (g: { model: string; version: number; arm: string }) => `${g.model}@${g.version} ${g.arm}`;
const td = (metric: string, group: string, text: string) => `<td data-metric="${metric}" data-group="${esc(group)}">${esc(text)}</td>`;
const interval = (i: Interval, f: (v: number) => string) => `${f(i.diff)} [${f(i.low)}, ${f(i.high)}]`;

function groupsTable(s: MetricsSummary): string {
  const ranked = s.groups.some((g) => g.ranked > 0);
  const head = ['version · arm', 'examples', 'positives', 'rate', 'mean predicted', 'log loss', 'AUC', 'ECE', ...(ranked ? ['hit@1', 'hit@3', 'hit@10'] : [])];
  const rows = s.groups.map((g) => {
    const k = label(g);
    return `<tr><td>${esc(k)}</td>${td('n', k, String(g.n))}${td('positives', k, String(g.positives))}${td('rate', k, pct(g.rate))}${td('mean_predicted', k, pct(g.mean_predicted))}${td('log_loss', k, f4(g.log_loss))}${td('auc', k, f4(g.auc))}${td('ece', k, f4(g.ece))}${
      ranked ? ['1', '3', '10'].map((h) => td(`hit@${h}`, k, pct(g.hits[h] ?? 0))).join('') : ''
    }</tr>`;
  });
  return `<table id="groups"><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.join('')}</table>`;
}

function comparisons(s: MetricsSummary): string {
  if (!s.comparisons.length) return '<p>No A/B comparison: a model needs exactly two arms (or name them with --compare a,b).</p>';
  return s.comparisons
    .map((c) => {
      const verdicts = c.verdicts.length
        ? c.verdicts.map((v) => `<p class="verdict">${esc(v)}</p>`).join('')
        : '<p class="no-verdict">No verdict: every 95% interval includes zero, so the data cannot tell the arms apart yet.</p>';
      return `<div class="card ab" data-model="${esc(c.model)}"><h3>${esc(c.model)}: ${esc(c.b)} vs ${esc(c.a)}</h3><table>
<tr><th>difference (${esc(c.b)} − ${esc(c.a)})</th><th>estimate [95% CI]</th></tr>
<tr><td>rate (Newcombe)</td><td data-metric="rate_diff">${interval(c.rate, (v) => `${(v * 100).toFixed(2)} pt`)}</td></tr>
<tr><td>log loss (normal)</td><td data-metric="log_loss_diff">${interval(c.log_loss, (v) => v.toFixed(4))}</td></tr></table>${verdicts}</div>`;
    })
    .join('');
}

function timeCharts(s: MetricsSummary): string {
  const keys = [...new Set(s.timeline.map((t) => label(t)))];
  const chart = (title: string, pick: (t: MetricsSummary['timeline'][number]) => number | null, fy?: (v: number) => string) =>
    lineChart({
      title,
      series: keys.map((k, i) => ({ name: k, color: COLORS[i % COLORS.length]!, points: s.timeline.filter((t) => label(t) === k).map((t) => [Date.parse(t.time), pick(t) ?? NaN] as [number, number]) })),
      formatX: (x) => new Date(x).toISOString().slice(5, s.granularity === 'day' ? 10 : 13).replace('T', ' '),
      ...(fy ? { formatY: fy } : {}),
    });
  return `<div class="grid"><div class="card">${chart('examples', (t) => t.n)}</div><div class="card">${chart('rate (observed)', (t) => t.rate, pct)}</div>
<div class="card">${chart('mean predicted', (t) => t.mean_predicted, pct)}</div><div class="card">${chart('log loss', (t) => t.log_loss)}</div><div class="card">${chart('AUC', (t) => t.auc)}</div></div>`;
}

function calibration(s: MetricsSummary): string {
  const series = s.groups.map((g, i) => ({ name: label(g), color: COLORS[i % COLORS.length]!, points: g.reliability.map((r) => [r.predicted, r.observed] as [number, number]) }));
  const cal = lineChart({ title: 'reliability: observed rate per predicted-score bin', series, x: [0, 1], y: [0, 1], diagonal: true, formatX: pct, formatY: pct });
  const ranked = s.groups.filter((g) => g.ranked > 0);
  const positions = [...new Set(ranked.flatMap((g) => Object.keys(g.picked).map(Number)))].sort((a, b) => a - b);
  const pick = ranked.length
    ? `<div class="card">${barChart({ title: 'picked position (share of ranked answers)', labels: positions.map(String), series: ranked.map((g, i) => ({ name: label(g), color: COLORS[i % COLORS.length]!, values: positions.map((p) => (g.picked[String(p)] ?? 0) / g.ranked) })), format: pct })}</div>`
    : '';
  return `<div class="grid"><div class="card" id="calibration">${cal}</div>${pick}</div>`;
}

function slices(s: MetricsSummary): string {
  if (!s.slices.length) return '<p>No slices (configure slice fields, or pass --slice FIELD).</p>';
  const rows = s.slices.map((x) => `<tr><td>${esc(x.field)}</td><td>${esc(x.value)}</td><td>${esc(label(x))}</td><td>${x.n}</td><td>${pct(x.rate)}</td><td>${pct(x.mean_predicted)}</td><td>${f4(x.log_loss)}</td><td>${f4(x.auc)}</td><td>${f4(x.ece)}</td></tr>`);
  return `<table id="slices"><tr><th>field</th><th>value</th><th>version · arm</th><th>examples</th><th>rate</th><th>mean predicted</th><th>log loss</th><th>AUC</th><th>ECE</th></tr>${rows.join('')}</table>`;
}

function drift(s: MetricsSummary): string {
  const d = s.drift;
  if (!d) return '<p>No serving drift: no training data named (the model\'s trained_on, or --training) or no logged field shared with it.</p>';
  const overall = d.overall.features
    .map((f) => `<tr><td>${esc(f.name)}</td><td>${f.kind}</td><td>${f.psi?.toFixed(4) ?? ''}</td><td>${f.js?.toFixed(4) ?? ''}</td><td>${f.linf?.toFixed(4) ?? ''}</td><td class="${f.drifted ? 'drift' : ''}">${esc(f.reasons.join('; '))}</td></tr>`)
    .join('');
  const days = d.days
    .map((x) => `<tr class="${x.anomaly ? 'anomaly' : ''}"><td>${x.day}</td><td>${esc(x.feature)}</td><td>${x.rows}</td><td>${x.psi?.toFixed(4) ?? ''}</td><td>${x.js?.toFixed(4) ?? ''}</td><td>${x.linf?.toFixed(4) ?? ''}</td><td class="${x.anomaly ? 'drift' : ''}">${esc(x.anomaly ?? '')}</td></tr>`)
    .join('');
  return `<p>${esc(d.serving)} (logged fields) vs the training data ${esc(d.training)}.</p>
<table id="drift-overall"><tr><th>feature</th><th>kind</th><th>PSI</th><th>JS</th><th>L∞</th><th>anomaly</th></tr>${overall}</table>
<h3>Per day</h3><table id="drift-days"><tr><th>day</th><th>feature</th><th>rows</th><th>PSI</th><th>JS</th><th>L∞</th><th>anomaly</th></tr>${days}</table>`;
}

const EXTRA_CSS = `<style>.verdict{font-weight:600;color:#1b5e20}.no-verdict{color:#555}tr.anomaly td{background:#fdecea}h3{font-size:14px}</style>`;

/** The report's body (also the web page's content). */
export function metricsBody(s: MetricsSummary): string {
  return [
    EXTRA_CSS,
    `<p>Source: ${esc(s.source)}. Times are UTC, per ${s.granularity}.</p>`,
    '<h2>Per version and arm</h2>',
    groupsTable(s),
    '<h2>A/B comparison</h2>',
    comparisons(s),
    '<h2>Over time</h2>',
    timeCharts(s),
    '<h2>Calibration</h2>',
    calibration(s),
    '<h2>Slices</h2>',
    slices(s),
    '<h2>Serving drift</h2>',
    drift(s),
  ].join('\n');
}

export function metricsHtml(s: MetricsSummary, title = 'sluice feedback metrics'): string {
  return page(title, metricsBody(s));
}
