// Benchmark harness: each benchmark measures our figure and its anchor in the same run, repeats,
// and reports medians and the ratio. Machines here are shared and noisy: compare ratios.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface Measure {
  /** what was measured, e.g. "import 2M-row CSV" */
  name: string;
  /** unit of the figure, e.g. "rows/s" or "MB/s" (higher is better) */
  unit: string;
  ours: number;
  anchor: number;
  anchorName: string;
  /** the goal for ours/anchor, e.g. 0.8 */
  goal?: number;
  /** extra figures worth printing (peak RSS, sizes) */
  notes?: Record<string, string | number>;
}

export interface Bench {
  name: string;
  run(ctx: BenchContext): Promise<Measure[]>;
}

export interface BenchContext {
  /** a scratch folder for this benchmark */
  dir: string;
  repeats: number;
  /** quick mode for smoke runs: smaller inputs */
  quick: boolean;
  log(msg: string): void;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `n` times, alternating with nothing else; returns each duration in seconds. */
export async function timeRuns(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push((performance.now() - t) / 1000);
  }
  return out;
}

/**
 * Times ours and the anchor interleaved (anchor, ours, anchor, ours…) so both see the same
 * machine noise; returns the median seconds of each.
 */
export async function timePair(n: number, anchor: (i: number) => Promise<void>, ours: (i: number) => Promise<void>): Promise<{ anchor: number; ours: number; anchorRuns: number[]; oursRuns: number[] }> {
  const a: number[] = [];
  const o: number[] = [];
  for (let i = 0; i < n; i++) {
    a.push(...(await timeRuns(1, () => anchor(i))));
    o.push(...(await timeRuns(1, () => ours(i))));
  }
  return { anchor: median(a), ours: median(o), anchorRuns: a, oursRuns: o };
}

export function scratch(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function formatMeasure(m: Measure): string {
  const ratio = m.ours / m.anchor;
  const goal = m.goal === undefined ? '' : `  goal ≥ ${m.goal}  ${ratio >= m.goal ? 'MET' : 'MISSED'}`;
  const notes = m.notes ? '  ' + Object.entries(m.notes).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  return `${m.name}: ours ${f(m.ours)} ${m.unit} | ${m.anchorName} ${f(m.anchor)} ${m.unit} | ratio ${ratio.toFixed(2)}${goal}${notes}`;
}
