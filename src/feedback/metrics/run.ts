// `sluice feedback metrics` as a function: picks the state (incremental, or recomputed from a
// feedback version), summarizes it, and adds serving drift against the model's training data.
import { UsageError } from '../../core/errors.ts';
import type { Manifest } from '../../core/manifest.ts';
import type { Project } from '../../core/project.ts';
import { parseRef } from '../../core/ref.ts';
import { metricSlices } from './accumulate.ts';
import { openFeedbackDb, readState } from './read.ts';
import { stateFromDataset, type StateFilter } from './recompute.ts';
import { servingDrift } from './serving-drift.ts';
import { summarize, type Granularity, type MetricsSummary } from './summary.ts';
import { HOUR_MS } from './state.ts';

export const FEEDBACK_DATASET = 'feedback';

export interface MetricsOptions extends StateFilter {
  /** a feedback version to recompute from (e.g. feedback@3); default: the incremental state */
  from?: string;
  /** logged fields to slice by (recomputes when the incremental state does not keep one) */
  slices?: string[];
  granularity?: Granularity;
  compare?: [string, string];
  /** training data to measure serving drift against (default: the model's trained_on) */
  training?: string;
  drift?: boolean;
}

/** The training dataset of the newest version of `model` the metrics saw, from its model.yaml. */
async function trainedOn(project: Project, model: string, versions: number[]): Promise<string | undefined> {
  const { listModels } = await import('../../model/registry.ts');
  const metas = listModels(project).filter((m) => m.name === model && versions.includes(m.version));
  return metas.sort((a, b) => b.version - a.version)[0]?.trained_on[0]?.dataset;
}

export async function computeMetrics(project: Project, o: MetricsOptions = {}): Promise<MetricsSummary> {
  const filter: StateFilter = { ...(o.model ? { model: o.model } : {}), ...(o.since !== undefined ? { since: o.since } : {}) };
  const opts = { granularity: o.granularity ?? 'day', ...(o.compare ? { compare: o.compare } : {}) } as const;
  let feedback: Manifest | undefined;
  const latestFeedback = async () => ((await project.catalog.head(FEEDBACK_DATASET)) !== null ? project.catalog.resolve(parseRef(FEEDBACK_DATASET)) : undefined);
  let summary: MetricsSummary | undefined;
  if (!o.from) {
    const db = openFeedbackDb(project);
    try {
      const state = await readState(db, filter);
      const kept = await metricSlices(db);
      const wanted = o.slices ?? kept;
      if (state.cells.length && wanted.every((s) => kept.includes(s))) {
        const only = new Set(wanted);
        const sliced = { cells: state.cells.filter((c) => c.slice_field === '*' || only.has(c.slice_field)), bins: state.bins.filter((c) => c.slice_field === '*' || only.has(c.slice_field)), positions: state.positions.filter((c) => c.slice_field === '*' || only.has(c.slice_field)) };
        summary = summarize(sliced, { source: 'incremental', ...opts });
      }
    } finally {
      await db.close();
    }
  }
  if (!summary) {
    feedback = o.from ? await project.catalog.resolve(parseRef(o.from)) : await latestFeedback();
    if (!feedback) throw new UsageError('no feedback to measure: the incremental state is empty and there is no feedback dataset', { hint: 'run `sluice feedback run` first, or pass --from <feedback dataset@version>' });
    // only the figures per day (or hour) are shown, so the state is built at that step
    const state = await stateFromDataset(await project.duck(), project.dataDir, feedback, o.slices ?? [], filter, opts.granularity === 'day' ? 24 * HOUR_MS : HOUR_MS);
    summary = summarize(state, { source: `${feedback.dataset}@${feedback.version}`, ...opts });
  }
  if (o.drift !== false) {
    const model = o.model ?? (new Set(summary.groups.map((g) => g.model)).size === 1 ? summary.groups[0]?.model : undefined);
    const training = o.training ?? (model ? await trainedOn(project, model, summary.groups.filter((g) => g.model === model).map((g) => g.version)) : undefined);
    feedback ??= await latestFeedback();
    if (training && feedback) {
      const drift = await servingDrift(project, await project.catalog.resolve(parseRef(training)), feedback);
      if (drift) summary.drift = drift;
    }
  }
  return summary;
}
