// The metrics summary a person reads (CLI, HTML report, web page): per model version × arm overall,
// over time, per slice value, and the A/B comparison of two arms — all finalized from one state.
import { compareArms, type Comparison } from './compare.ts';
import { finalize, mergeStateBy, type Agg, type Metrics } from './finalize.ts';
import { ALL, HOUR_MS, type MetricsState } from './state.ts';
import type { ServingDrift } from './serving-drift.ts';

export type Granularity = 'hour' | 'day';

export interface GroupMetrics extends Metrics {
  model: string;
  version: number;
  arm: string;
}

/** The headline figures of a group (a time point, a slice value). */
type Figures = Pick<Metrics, 'n' | 'rate' | 'mean_predicted' | 'log_loss' | 'auc' | 'ece'>;
const figures = (m: Metrics): Figures => ({ n: m.n, rate: m.rate, mean_predicted: m.mean_predicted, log_loss: m.log_loss, auc: m.auc, ece: m.ece });

export interface TimePoint extends Figures {
  model: string;
  version: number;
  arm: string;
  /** bucket start, ISO 8601 UTC */
  time: string;
}

export interface SliceMetrics extends Figures {
  field: string;
  value: string;
  model: string;
  version: number;
  arm: string;
}

export interface MetricsSummary {
  /** where the state came from: 'incremental' or a feedback version */
  source: string;
  granularity: Granularity;
  groups: GroupMetrics[];
  timeline: TimePoint[];
  slices: SliceMetrics[];
  /** per model with exactly two arms (or the two arms asked for) */
  comparisons: (Comparison & { model: string })[];
  drift?: ServingDrift;
}

const DAY_MS = 24 * HOUR_MS;
const split = (g: string) => JSON.parse(g) as [string, number, string, ...unknown[]];

export function summarize(state: MetricsState, o: { source: string; granularity?: Granularity; compare?: [string, string] }): MetricsSummary {
  const granularity = o.granularity ?? 'day';
  const step = granularity === 'day' ? DAY_MS : HOUR_MS;
  // one pass over the state for the four groupings: per version × arm, × time, × slice value, per arm
  const [byGroup, byTime, bySlice, arms] = mergeStateBy(state, [
    (k) => (k.slice_field === ALL ? JSON.stringify([k.model, k.version, k.arm]) : undefined),
    (k) => (k.slice_field === ALL ? JSON.stringify([k.model, k.version, k.arm, Math.floor(k.bucket / step) * step]) : undefined),
    (k) => (k.slice_field === ALL ? undefined : JSON.stringify([k.model, k.version, k.arm, k.slice_field, k.slice_value])),
    // A/B compares arms (whatever version each served), so one arm's versions are merged
    (k) => (k.slice_field === ALL ? JSON.stringify([k.model, 0, k.arm]) : undefined),
  ]) as [Map<string, Agg>, Map<string, Agg>, Map<string, Agg>, Map<string, Agg>];
  const groups: GroupMetrics[] = [...byGroup]
    .map(([g, a]) => {
      const [model, version, arm] = split(g);
      return { model, version, arm, ...finalize(a) };
    })
    .sort((x, y) => (x.model < y.model ? -1 : x.model > y.model ? 1 : x.version - y.version || (x.arm < y.arm ? -1 : x.arm > y.arm ? 1 : 0)));
  const timeline: TimePoint[] = [...byTime]
    .map(([g, a]) => {
      const [model, version, arm, t] = split(g);
      return { model, version, arm, time: new Date(t as number).toISOString(), ...figures(finalize(a)) };
    })
    .sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : x.version - y.version || (x.arm < y.arm ? -1 : 1)));
  const slices: SliceMetrics[] = [...bySlice]
    .map(([g, a]) => {
      const [model, version, arm, field, value] = split(g);
      return { field: field as string, value: value as string, model, version, arm, ...figures(finalize(a)) };
    })
    .sort((x, y) => (x.field < y.field ? -1 : x.field > y.field ? 1 : x.value < y.value ? -1 : x.value > y.value ? 1 : x.version - y.version || (x.arm < y.arm ? -1 : 1)));
  const byModel = new Map<string, Map<string, Metrics>>();
  for (const [g, a] of arms) {
    const [model, , arm] = split(g);
    if (!byModel.has(model)) byModel.set(model, new Map());
    byModel.get(model)!.set(arm, finalize(a));
  }
  const comparisons: MetricsSummary['comparisons'] = [];
  for (const [model, m] of byModel) {
    const names = o.compare ?? (m.size === 2 ? ([...m.keys()].sort() as [string, string]) : undefined);
    if (!names) continue;
    const [a, b] = [m.get(names[0]), m.get(names[1])];
    if (a && b) comparisons.push({ model, ...compareArms(names[0], a, names[1], b) });
  }
  return { source: o.source, granularity, groups, timeline, slices, comparisons };
}
