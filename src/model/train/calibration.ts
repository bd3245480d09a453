// Class weights and the prior correction. Rebalancing records each class's sampling rate in the
// version's manifest (`extra.rebalance.rates`, see analyze/rebalance-stage.ts); class weights act
// like sampling rates on the loss. A model fit to the reweighted data has its logit shifted by
// ln(r_pos·w_pos / r_neg·w_neg); the trainer subtracts that shift inside the ONNX graph, so every
// score it serves is back on the true class rates.
import type { Manifest } from '../../core/manifest.ts';
import type { Project } from '../../core/project.ts';
import { NotFoundError } from '../../core/errors.ts';
import { parseRef } from '../../core/ref.ts';
import { calibrate, labelStats } from '../../analyze/balance.ts';

export type ClassWeighting = 'auto' | 'none' | 'inverse' | 'effective';

export interface Resampling {
  /** class → combined sampling rate of every rebalance along the version's lineage */
  rates: Record<string, number>;
  /** the versions whose manifests recorded the rates */
  recordedIn: string[];
}

const MAX_DEPTH = 64;

/**
 * The sampling rates of `label` recorded by `rebalance` in `m` or its single-parent ancestors
 * (a split of a rebalanced version keeps its rates); rates of chained rebalances multiply.
 */
export async function samplingRates(project: Project, m: Manifest, label: string): Promise<Resampling> {
  const rates: Record<string, number> = {};
  const recordedIn: string[] = [];
  let cur: Manifest | null = m;
  for (let depth = 0; cur && depth < MAX_DEPTH; depth++) {
    const r = cur.extra?.rebalance as { label?: string; rates?: Record<string, number> } | undefined;
    if (r?.label === label && r.rates) {
      for (const [k, v] of Object.entries(r.rates)) rates[k] = (rates[k] ?? 1) * v;
      recordedIn.push(`${cur.dataset}@${cur.version}`);
    }
    const parent: string | undefined = cur.parents.length === 1 ? cur.parents[0] : undefined;
    cur = parent ? await resolveOrNull(project, parent) : null;
  }
  return { rates, recordedIn };
}

async function resolveOrNull(project: Project, ref: string): Promise<Manifest | null> {
  try {
    return await project.catalog.resolve(parseRef(ref));
  } catch (e) {
    // a collected ancestor ends the walk; it cannot hold rates the child did not inherit
    if (e instanceof NotFoundError) return null;
    throw e;
  }
}

/**
 * Per-class loss weights from the analyze stage's class balance (`labelStats`). `auto` weights by
 * inverse frequency when the balance suggests it and the data was not already resampled.
 */
export function classWeights(label: string, counts: Record<string, number>, mode: ClassWeighting, resampled: boolean): Record<string, number> {
  const stats = labelStats(label, counts);
  const chosen = mode === 'auto' ? (!resampled && stats.suggestion.method !== 'none' ? 'inverse' : 'none') : mode;
  if (chosen === 'none') return Object.fromEntries(Object.keys(counts).map((k) => [k, 1]));
  return stats.weights[chosen];
}

/**
 * The constant added to the trained logit to give true-rate scores: logit(calibrate(½)) with each
 * class's effective rate (sampling rate × loss weight) — ln(r_neg·w_neg / r_pos·w_pos).
 * @example logitShift({ '1': 10, '0': 1 }, { '1': 1, '0': 1 }, '1', '0') // −ln 10
 */
export function logitShift(rates: Record<string, number>, weights: Record<string, number>, positive: string, negative: string): number {
  const eff = { [positive]: (rates[positive] ?? 1) * (weights[positive] ?? 1), [negative]: (rates[negative] ?? 1) * (weights[negative] ?? 1) };
  const p = calibrate(0.5, eff, positive);
  return Math.log(p / (1 - p));
}
