// Hard-example selection rules as SQL over the model's positive-class probability `p` and a 0/1
// label `y`. Every strategy gives a `mine_score` where higher means "more worth adding":
//   hard-negatives  p                       (negatives the model thinks are positive)
//   hard-positives  1 − p                   (positives the model misses)
//   highest-loss    −(y·ln p + (1−y)·ln(1−p)), p clamped to [1e-7, 1 − 1e-7]
//   margin          1 − |2p − 1|            (1 − the gap between the two class probabilities)
//   entropy         binary entropy of p in bits (0…1)
// `--threshold t` keeps picks with mine_score ≥ t; caps and the count take the highest scores.
import { UsageError } from '../core/errors.ts';

export type Strategy = 'hard-negatives' | 'hard-positives' | 'highest-loss' | 'margin' | 'entropy';
export const STRATEGIES: Strategy[] = ['hard-negatives', 'hard-positives', 'highest-loss', 'margin', 'entropy'];

/** Strategies that need a 0/1 label; the uncertainty ones work on unlabeled pools. */
export const needsLabel = (s: Strategy) => s === 'hard-negatives' || s === 'hard-positives' || s === 'highest-loss';

const EPS = '1e-7';
const clamped = (p: string) => `least(greatest(${p}::DOUBLE, ${EPS}), 1 - ${EPS})`;

/** The mine_score expression. */
export function scoreSql(s: Strategy, p: string, y: string): string {
  const q = clamped(p);
  switch (s) {
    case 'hard-negatives':
      return `${p}::DOUBLE`;
    case 'hard-positives':
      return `1 - ${p}::DOUBLE`;
    case 'highest-loss':
      return `-(${y} * ln(${q}) + (1 - ${y}) * ln(1 - ${q}))`;
    case 'margin':
      return `1 - abs(2 * ${p}::DOUBLE - 1)`;
    case 'entropy':
      return `CASE WHEN ${p} <= 0 OR ${p} >= 1 THEN 0 ELSE -(${p}::DOUBLE * log2(${p}::DOUBLE) + (1 - ${p}::DOUBLE) * log2(1 - ${p}::DOUBLE)) END`;
  }
}

/** Which rows a strategy looks at (label filters), as a WHERE condition. */
export function poolSql(s: Strategy, y: string): string {
  if (s === 'hard-negatives') return `${y} = 0`;
  if (s === 'hard-positives') return `${y} = 1`;
  if (s === 'highest-loss') return `${y} IN (0, 1)`;
  return 'true';
}

/** The one strategy the CLI flags name (exactly one must be given). */
export function strategyFromFlags(o: { hardNegatives?: number; hardPositives?: number; highestLoss?: number; uncertainty?: string; top?: number }): { strategy: Strategy; count: number } {
  const given: { strategy: Strategy; count: number | undefined }[] = [];
  if (o.hardNegatives !== undefined) given.push({ strategy: 'hard-negatives', count: o.hardNegatives });
  if (o.hardPositives !== undefined) given.push({ strategy: 'hard-positives', count: o.hardPositives });
  if (o.highestLoss !== undefined) given.push({ strategy: 'highest-loss', count: o.highestLoss });
  if (o.uncertainty !== undefined) {
    if (o.uncertainty !== 'margin' && o.uncertainty !== 'entropy') throw new UsageError(`--uncertainty must be margin or entropy, got ${JSON.stringify(o.uncertainty)}`);
    if (o.top === undefined) throw new UsageError('--uncertainty needs --top N (how many examples to pick)');
    given.push({ strategy: o.uncertainty, count: o.top });
  }
  if (given.length !== 1) {
    throw new UsageError(`give exactly one strategy, got ${given.length ? given.map((g) => g.strategy).join(', ') : 'none'}`, {
      hint: 'use one of --hard-negatives N, --hard-positives N, --highest-loss N, --uncertainty margin|entropy --top N',
    });
  }
  const g = given[0]!;
  if (!(g.count! >= 1)) throw new UsageError(`${g.strategy}: the number of examples must be at least 1, got ${g.count}`);
  return { strategy: g.strategy, count: g.count! };
}
