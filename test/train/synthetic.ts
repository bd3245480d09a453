// A synthetic click dataset with a rule a model can learn: P(clicked) = sigmoid(2·z1 − 3·x2 +
// effect(slot) + bias), where z1 is x1 standardized. Generated in DuckDB from hashes of the row
// number and a seed, so the same seed gives the same rows on any thread count.
import type { FeatureSpecInput } from '../../src/model/features/spec.ts';

const u = (salt: string, seed: number) => `((hash(i::VARCHAR || ':${salt}:${seed}') >> 11)::DOUBLE / 9007199254740992.0)`;
const normal = (salt: string, seed: number) => `(sqrt(-2 * ln(1 - ${u(salt + 'a', seed)})) * cos(2 * pi() * ${u(salt + 'b', seed)}))`;
const EFFECT = { a: 1, b: 0, c: -1, d: 2 } as const;

/** SQL for `rows` rows: x1 (mean 10, sd 5), x2 (standard normal), noise, slot (a–d), clicked (0/1). */
export function syntheticSql(rows: number, seed: number, bias = -7): string {
  const slot = `['a', 'b', 'c', 'd'][1 + floor(${u('slot', seed)} * 4)::INTEGER]`;
  const effect = `CASE slot ${Object.entries(EFFECT).map(([k, v]) => `WHEN '${k}' THEN ${v}`).join(' ')} END`;
  const base = `SELECT i, 10 + 5 * ${normal('x1', seed)} AS x1, ${normal('x2', seed)} AS x2, ${normal('x3', seed)} AS noise, ${slot} AS slot, ${u('y', seed)} AS uy FROM range(${rows}) r(i)`;
  const logit = `2 * (x1 - 10) / 5 - 3 * x2 + ${effect} + ${bias}`;
  return `SELECT i AS ad_id, x1, x2, noise, slot, (uy < 1 / (1 + exp(-(${logit}))))::INTEGER AS clicked FROM (${base})`;
}

/** Numbers standardized from the training data, the slot one-hot from a vocabulary built from it. */
export const SPEC: FeatureSpecInput = {
  inputs: [
    {
      name: 'x',
      features: [{ number: 'x1', standardize: true }, { number: 'x2', standardize: true }, { number: 'noise', fill: 0 }, { category: 'slot', vocab: { max_size: 10 }, encode: 'one_hot' }],
    },
  ],
};
