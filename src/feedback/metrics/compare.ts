// A/B comparison of two arms: rate difference with Newcombe's hybrid score interval, log loss
// difference with a normal interval from the per-example variances, and a plain-language verdict
// only for the differences whose interval excludes zero.
import type { Metrics } from './finalize.ts';

/** Two-sided 95%. */
export const Z95 = 1.959963984540054;

export interface Interval {
  diff: number;
  low: number;
  high: number;
}

export interface Comparison {
  a: string;
  b: string;
  /** rate(b) − rate(a) */
  rate: Interval;
  /** log loss(b) − log loss(a): negative means b predicts better */
  log_loss: Interval;
  /** one sentence per difference whose interval excludes zero; empty when none does */
  verdicts: string[];
}

/** Wilson score interval of a proportion. */
export function wilson(pos: number, n: number, z = Z95): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = pos / n;
  const d = 1 + (z * z) / n;
  const c = p + (z * z) / (2 * n);
  const r = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { low: (c - r) / d, high: (c + r) / d };
}

/** Newcombe (1998) method 10: the difference p_b − p_a from the two Wilson intervals. */
export function newcombe(posA: number, nA: number, posB: number, nB: number, z = Z95): Interval {
  const pa = nA ? posA / nA : 0;
  const pb = nB ? posB / nB : 0;
  const wa = wilson(posA, nA, z);
  const wb = wilson(posB, nB, z);
  const diff = pb - pa;
  return {
    diff,
    low: diff - Math.sqrt((pb - wb.low) ** 2 + (wa.high - pa) ** 2),
    high: diff + Math.sqrt((wb.high - pb) ** 2 + (pa - wa.low) ** 2),
  };
}

/** Difference of two means with a normal interval from their sample variances (independent samples). */
export function meanDiff(meanA: number, varA: number, nA: number, meanB: number, varB: number, nB: number, z = Z95): Interval {
  const diff = meanB - meanA;
  const se = Math.sqrt((nA ? varA / nA : Infinity) + (nB ? varB / nB : Infinity));
  return { diff, low: diff - z * se, high: diff + z * se };
}

// Sums of squares carry rounding error: a difference within it (e.g. identical arms) is zero.
const excludesZero = (i: Interval, scale = 1) => i.low > 1e-12 * scale || i.high < -1e-12 * scale;
const pct = (x: number) => `${(x * 100).toFixed(2)}`;

export function compareArms(a: string, ma: Metrics, b: string, mb: Metrics, outcome = 'positive'): Comparison {
  const rate = newcombe(ma.positives, ma.n, mb.positives, mb.n);
  const log_loss = meanDiff(ma.log_loss, ma.log_loss_var, ma.n, mb.log_loss, mb.log_loss_var, mb.n);
  const verdicts: string[] = [];
  if (excludesZero(rate)) {
    verdicts.push(
      `${b}'s ${outcome} rate is ${rate.diff > 0 ? 'higher' : 'lower'} than ${a}'s by ${pct(Math.abs(rate.diff))} points ` +
        `(${pct(ma.rate)}% → ${pct(mb.rate)}%; 95% CI ${pct(rate.low)} to ${pct(rate.high)} points).`,
    );
  }
  if (excludesZero(log_loss, ma.log_loss + mb.log_loss)) {
    verdicts.push(
      `${b}'s predictions fit the outcomes ${log_loss.diff < 0 ? 'better' : 'worse'} than ${a}'s: log loss ${log_loss.diff < 0 ? 'lower' : 'higher'} by ` +
        `${Math.abs(log_loss.diff).toFixed(4)} (95% CI ${log_loss.low.toFixed(4)} to ${log_loss.high.toFixed(4)}).`,
    );
  }
  return { a, b, rate, log_loss, verdicts };
}
