// Inline SVG bar charts for reports: no browser and no network needed to draw them, and the
// HTML that holds them opens offline. One function: grouped bars with labelled axes.

export interface Series {
  name: string;
  values: number[];
  color: string;
}

export interface BarChart {
  title: string;
  labels: string[];
  series: Series[];
  width?: number;
  height?: number;
  /** formats a value on the y axis and in tooltips */
  format?: (v: number) => string;
  /** draws a dashed line at this value (a threshold) */
  rule?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const compact = (v: number): string =>
  Math.abs(v) >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : String(+v.toPrecision(3));

/** Grouped bar chart as an `<svg>` element string. */
export function barChart(c: BarChart): string {
  const W = c.width ?? 420;
  const H = c.height ?? 220;
  const fmt = c.format ?? compact;
  const m = { top: 26, right: 10, bottom: 58, left: 48 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const max = Math.max(c.rule ?? 0, ...c.series.flatMap((s) => s.values.filter(Number.isFinite)), 0) || 1;
  const n = Math.max(1, c.labels.length);
  const slot = iw / n;
  const bw = Math.max(1, (slot * 0.85) / Math.max(1, c.series.length));
  const y = (v: number) => m.top + ih - (Math.max(0, v) / max) * ih;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" class="t">${escapeXml(c.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="g"/>`);
    parts.push(`<text x="${m.left - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end" class="a">${escapeXml(fmt(v))}</text>`);
  }
  c.series.forEach((s, k) => {
    s.values.forEach((v, i) => {
      const x = m.left + i * slot + slot * 0.075 + k * bw;
      const top = y(v);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${(m.top + ih - top).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${s.name} ${c.labels[i] ?? ''}: ${fmt(v)}`)}</title></rect>`,
      );
    });
  });
  const every = Math.ceil(n / 12); // at most ~12 x labels, so they stay readable
  c.labels.forEach((l, i) => {
    if (i % every) return;
    const x = m.left + i * slot + slot / 2;
    const text = l.length > 14 ? `${l.slice(0, 13)}…` : l;
    parts.push(`<text transform="translate(${x.toFixed(1)},${m.top + ih + 10}) rotate(35)" class="a">${escapeXml(text)}</text>`);
  });
  if (c.rule !== undefined) parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(c.rule).toFixed(1)}" y2="${y(c.rule).toFixed(1)}" class="r"/>`);
  if (c.series.length > 1) {
    c.series.forEach((s, k) => {
      parts.push(`<rect x="${W - m.right - 150 + k * 75}" y="${H - 12}" width="9" height="9" fill="${s.color}"/><text x="${W - m.right - 138 + k * 75}" y="${H - 4}" class="a">${escapeXml(s.name.slice(0, 10))}</text>`);
    });
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(c.title)}">${parts.join('')}</svg>`;
}
