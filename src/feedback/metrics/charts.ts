// Inline SVG line charts for the metrics report and page (series over time, the reliability
// curve): drawn on the server like the analyze reports' bar charts, so no browser library is needed.
import { compact, escapeXml } from '../../analyze/svg.ts';

export const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d'];

export interface LineSeries {
  name: string;
  /** [x, y] points; x is a number (time in ms, or a score) */
  points: [number, number][];
  color: string;
}

export interface LineChart {
  title: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  /** fixed axis ranges (default: the data's) */
  x?: [number, number];
  y?: [number, number];
  /** draws the y = x diagonal (perfect calibration) */
  diagonal?: boolean;
}

export function lineChart(c: LineChart): string {
  const W = c.width ?? 440;
  const H = c.height ?? 230;
  const m = { top: 26, right: 12, bottom: 48, left: 50 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const [x0, x1] = c.x ?? (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]);
  let [y0, y1] = c.y ?? [Math.min(0, ...ys), Math.max(...ys, 0) || 1];
  if (y1 === y0) y1 = y0 + 1;
  const fx = c.formatX ?? compact;
  const fy = c.formatY ?? compact;
  const X = (x: number) => m.left + (x1 === x0 ? iw / 2 : ((x - x0) / (x1 - x0)) * iw);
  const Y = (y: number) => m.top + ih - ((y - y0) / (y1 - y0)) * ih;
  const parts = [`<text x="${W / 2}" y="16" text-anchor="middle" class="t">${escapeXml(c.title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" class="g"/>`);
    parts.push(`<text x="${m.left - 4}" y="${(Y(v) + 3).toFixed(1)}" text-anchor="end" class="a">${escapeXml(fy(v))}</text>`);
    const u = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${X(u).toFixed(1)}" y="${m.top + ih + 14}" text-anchor="middle" class="a">${escapeXml(fx(u))}</text>`);
  }
  if (c.diagonal) parts.push(`<line x1="${X(Math.max(x0, y0)).toFixed(1)}" y1="${Y(Math.max(x0, y0)).toFixed(1)}" x2="${X(Math.min(x1, y1)).toFixed(1)}" y2="${Y(Math.min(x1, y1)).toFixed(1)}" class="r"/>`);
  for (const s of c.series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.6" fill="${s.color}"><title>${escapeXml(`${s.name} ${fx(p[0])}: ${fy(p[1])}`)}</title></circle>`);
  }
  c.series.forEach((s, k) => {
    const x = m.left + (k % 4) * 100;
    const y = H - 14 + Math.floor(k / 4) * 11;
    parts.push(`<rect x="${x}" y="${y - 8}" width="9" height="9" fill="${s.color}"/><text x="${x + 12}" y="${y}" class="a">${escapeXml(s.name.slice(0, 14))}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(c.title)}">${parts.join('')}</svg>`;
}
