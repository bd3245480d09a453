// Turns metrics state into metrics: merges state rows into groups (e.g. per version × arm × day ×
// slice value) and computes rate, calibration, log loss, AUC and ranked-answer figures from the sums.
import { BINS, keyString, type MetricsState, type Sums } from './state.ts';

/** The additive sums of one group (state rows merged). */
export interface Agg extends Sums {
  binN: number[];
  binPos: number[];
  binScore: number[];
  picked: Map<number, number>;
}

export interface ReliabilityPoint {
  bin: number;
  n: number;
  /** mean predicted score of the examples in the bin */
  predicted: number;
  /** observed positive rate in the bin */
  observed: number;
}

export interface Metrics {
  n: number;
  positives: number;
  /** observed positive (click, accept…) rate */
  rate: number;
  mean_predicted: number;
  log_loss: number;
  /** sample variance of the per-example log loss (for confidence intervals) */
  log_loss_var: number;
  /** null when the group has only positives or only negatives */
  auc: number | null;
  /** expected calibration error over the score bins */
  ece: number;
  reliability: ReliabilityPoint[];
  ranked: number;
  /** picked position → count, for ranked answers */
  picked: Record<string, number>;
  /** share of ranked answers whose pick was within the first k (k = 1, 3, 5, 10) */
  hits: Record<string, number>;
}

export const HITS_AT = [1, 3, 5, 10];

export function emptyAgg(): Agg {
  const z = () => Array.from({ length: BINS }, () => 0);
  return { n: 0, pos: 0, sum_score: 0, sum_score2: 0, sum_ll: 0, sum_ll2: 0, ranked: 0, binN: z(), binPos: z(), binScore: z(), picked: new Map() };
}

type Key = { model: string; version: number; arm: string; bucket: number; slice_field: string; slice_value: string };

/**
 * Merges state rows into groups named by `groupOf` (a row for which it returns undefined is left out).
 * Example: `mergeState(s, (k) => k.slice_field === '*' ? `${k.version}/${k.arm}` : undefined)`.
 */
export function mergeState(state: MetricsState, groupOf: (k: Key) => string | undefined): Map<string, Agg> {
  return mergeStateBy(state, [groupOf])[0]!;
}

/** Several groupings in one pass over the state (the bins are most of it: each is keyed once). */
export function mergeStateBy(state: MetricsState, groupings: ((k: Key) => string | undefined)[]): Map<string, Agg>[] {
  const outs = groupings.map(() => new Map<string, Agg>());
  // every state row of one cell (its bins, its positions) falls in the cell's groups: found once per cell
  const targets = new Map<string, Agg[]>();
  const of = (k: Key): Agg[] => {
    const ks = keyString(k);
    let t = targets.get(ks);
    if (!t) {
      t = [];
      groupings.forEach((groupOf, i) => {
        const g = groupOf(k);
        if (g === undefined) return;
        let a = outs[i]!.get(g);
        if (!a) outs[i]!.set(g, (a = emptyAgg()));
        t!.push(a);
      });
      targets.set(ks, t);
    }
    return t;
  };
  for (const c of state.cells) {
    for (const a of of(c)) {
      a.n += Number(c.n);
      a.pos += Number(c.pos);
      a.sum_score += Number(c.sum_score);
      a.sum_score2 += Number(c.sum_score2);
      a.sum_ll += Number(c.sum_ll);
      a.sum_ll2 += Number(c.sum_ll2);
      a.ranked += Number(c.ranked);
    }
  }
  for (const b of state.bins) {
    for (const a of of(b)) {
      a.binN[b.bin] = a.binN[b.bin]! + Number(b.n);
      a.binPos[b.bin] = a.binPos[b.bin]! + Number(b.pos);
      a.binScore[b.bin] = a.binScore[b.bin]! + Number(b.sum_score);
    }
  }
  for (const p of state.positions) {
    for (const a of of(p)) a.picked.set(Number(p.picked), (a.picked.get(Number(p.picked)) ?? 0) + Number(p.n));
  }
  return outs;
}

/** AUC on binned scores: P(score of a positive > score of a negative), ties (same bin) counting ½. */
export function binnedAuc(binPos: number[], binN: number[]): number | null {
  let negBelow = 0;
  let num = 0;
  let P = 0;
  let N = 0;
  for (let b = 0; b < binN.length; b++) {
    const pos = binPos[b]!;
    const neg = binN[b]! - pos;
    num += pos * (negBelow + neg / 2);
    negBelow += neg;
    P += pos;
    N += neg;
  }
  return P > 0 && N > 0 ? num / (P * N) : null;
}

/** Sample variance from n, the mean and the sum of squares; rounding noise around zero is zero. */
function variance(n: number, mean: number, sumSq: number): number {
  if (n < 2) return 0;
  const v = (sumSq - n * mean * mean) / (n - 1);
  return v > 1e-12 * Math.max(1, mean * mean) ? v : 0;
}

export function finalize(a: Agg): Metrics {
  const reliability: ReliabilityPoint[] = [];
  let ece = 0;
  for (let b = 0; b < BINS; b++) {
    const n = a.binN[b]!;
    if (!n) continue;
    const predicted = a.binScore[b]! / n;
    const observed = a.binPos[b]! / n;
    reliability.push({ bin: b, n, predicted, observed });
    ece += (n / a.n) * Math.abs(predicted - observed);
  }
  const ll = a.n ? a.sum_ll / a.n : 0;
  const picked: Record<string, number> = {};
  for (const [p, n] of [...a.picked].sort((x, y) => x[0] - y[0])) picked[String(p)] = n;
  const hits: Record<string, number> = {};
  for (const k of HITS_AT) {
    let h = 0;
    for (const [p, n] of a.picked) if (p < k) h += n;
    hits[String(k)] = a.ranked ? h / a.ranked : 0;
  }
  return {
    n: a.n,
    positives: a.pos,
    rate: a.n ? a.pos / a.n : 0,
    mean_predicted: a.n ? a.sum_score / a.n : 0,
    log_loss: ll,
    log_loss_var: variance(a.n, ll, a.sum_ll2),
    auc: binnedAuc(a.binPos, a.binN),
    ece,
    reliability,
    ranked: a.ranked,
    picked,
    hits,
  };
}
