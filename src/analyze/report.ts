// Self-contained HTML reports (stats, drift): inline CSS and SVG charts, no external URL, so the
// file opens offline and can be mailed or archived as it is.
import { barChart, compact, escapeXml as esc } from './svg.ts';
import type { DatasetStats } from './stats.ts';
import type { DriftReport } from './drift.ts';
import type { ColumnStats } from './stats-merge.ts';

const A = '#4c78a8';
const B = '#f58518';
const BAD = '#e45756';

const CSS = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #e3e3e3;border-radius:6px;padding:6px}
.drift{color:${BAD};font-weight:600}svg .t{font-size:13px;font-weight:600}svg .a{font-size:10px;fill:#555}svg .g{stroke:#eee}svg .r{stroke:${BAD};stroke-dasharray:4 3}`;

export const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>\n`;

const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? compact(v) : esc(String(v)));

function columnTable(s: DatasetStats): string {
  const head = ['column', 'type', 'count', 'missing', 'distinct', 'min', 'max', 'mean', 'std', 'p50', 'zeros'];
  const rows = s.columns.map((c) =>
    [c.name, c.type, c.count, c.missing, c.distinct, c.min, c.max, c.mean, c.std, c.quantiles?.p50, c.zeros].map((v) => `<td>${cell(v)}</td>`).join(''),
  );
  return `<table><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r}</tr>`).join('')}</table>`;
}

function columnChart(c: ColumnStats): string | null {
  if (c.histogram) {
    const labels = c.histogram.counts.map((_, i) => compact(c.histogram!.edges[i]!));
    return barChart({ title: `${c.name}: histogram`, labels, series: [{ name: c.name, values: c.histogram.counts, color: A }] });
  }
  if (c.top?.length) {
    return barChart({ title: `${c.name}: top ${c.top.length}`, labels: c.top.map((t) => t.value), series: [{ name: c.name, values: c.top.map((t) => t.count), color: A }] });
  }
  return null;
}

/** The stats report: a column table, a chart per column, the class balance. */
export function statsHtml(s: DatasetStats): string {
  const parts = [`<p>${s.rows} rows, ${s.columns.length} columns, computed by ${s.tasks} map task(s) per pass.</p>`];
  if (s.label) {
    const l = s.label;
    parts.push(`<h2>Class balance: ${esc(l.column)}</h2>`);
    parts.push(
      `<div class="grid"><div class="card">${barChart({ title: `${l.column}: class counts`, labels: l.classes.map((c) => c.value), series: [{ name: 'count', values: l.classes.map((c) => c.count), color: A }] })}</div>`,
    );
    parts.push(
      `<div class="card"><table><tr><th>class</th><th>count</th><th>share</th><th>weight (inverse)</th><th>weight (effective n, β=${l.weights.beta})</th></tr>${l.classes
        .map((c) => `<tr><td>${esc(c.value)}</td><td>${c.count}</td><td>${(c.share * 100).toFixed(2)}%</td><td>${l.weights.inverse[c.value]!.toFixed(4)}</td><td>${l.weights.effective[c.value]!.toFixed(4)}</td></tr>`)
        .join('')}</table><p>suggested: ${esc(l.suggestion.text)}</p></div></div>`,
    );
  }
  parts.push('<h2>Columns</h2>', columnTable(s), '<h2>Distributions</h2><div class="grid">');
  for (const c of s.columns) {
    const chart = columnChart(c);
    if (chart) parts.push(`<div class="card">${chart}</div>`);
  }
  parts.push('</div>');
  return page(`sluice stats — ${s.ref}`, parts.join('\n'));
}

/** The drift report: a table and a chart of drift per feature, then both versions side by side per feature. */
export function driftHtml(d: DriftReport): string {
  const parts = [`<p>${esc(d.a)} (${d.rowsA} rows, blue) vs ${esc(d.b)} (${d.rowsB} rows, orange). Thresholds: PSI ${d.thresholds.psi}, JS ${d.thresholds.js}, L∞ ${d.thresholds.linf}.</p>`];
  const num = d.features.filter((f) => f.psi !== undefined);
  const cat = d.features.filter((f) => f.linf !== undefined);
  parts.push('<h2>Drift per feature</h2><div class="grid">');
  if (num.length) parts.push(`<div class="card">${barChart({ title: 'PSI (numbers)', labels: num.map((f) => f.name), series: [{ name: 'PSI', values: num.map((f) => f.psi!), color: A }], rule: d.thresholds.psi })}</div>`);
  if (cat.length) parts.push(`<div class="card">${barChart({ title: 'L∞ (categories)', labels: cat.map((f) => f.name), series: [{ name: 'L∞', values: cat.map((f) => f.linf!), color: A }], rule: d.thresholds.linf })}</div>`);
  parts.push('</div>');
  parts.push(
    `<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>JS distance</th><th>L∞</th><th>anomaly</th></tr>${d.features
      .map((f) => `<tr><td>${esc(f.name)}</td><td>${f.kind}</td><td>${f.psi?.toFixed(4) ?? ''}</td><td>${f.js?.toFixed(4) ?? ''}</td><td>${f.linf?.toFixed(4) ?? ''}</td><td class="${f.drifted ? 'drift' : ''}">${esc(f.reasons.join('; '))}</td></tr>`)
      .join('')}</table>`,
  );
  if (d.missing.length) parts.push(`<p class="drift">Only in one version: ${d.missing.map((m) => `${esc(m.column)} (${esc(m.in)})`).join(', ')}</p>`);
  parts.push('<h2>Side by side</h2><div class="grid">');
  for (const f of d.features) {
    const chart = barChart({ title: `${f.name}${f.drifted ? ' — drifted' : ''}`, labels: f.bins.map((b) => b.label), series: [{ name: d.a, values: f.bins.map((b) => b.a), color: A }, { name: d.b, values: f.bins.map((b) => b.b), color: B }], format: (v) => `${+(v * 100).toPrecision(3)}%` });
    parts.push(`<div class="card">${chart}</div>`);
  }
  parts.push('</div>');
  return page(`sluice drift — ${d.a} vs ${d.b}`, parts.join('\n'));
}
