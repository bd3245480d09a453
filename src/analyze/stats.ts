// `stats`: per-column statistics of a version in two passes, each a plan of per-part map tasks
// whose partials merge here, so the same stats run locally or on BullMQ workers.
import { InputError, UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { makeRunner, runIdFor } from '../engine/execute.ts';
import { mapTaskId, type Json, type PlanOutputs, type PlanProgress, type PlanSpec, type Runner } from '../engine/plan.ts';
import { labelStats, type LabelStats } from './balance.ts';
import { kindOf, requireColumn, requireLabel, requireRows, userColumns } from './columns.ts';
import { runTasks } from './run.ts';
import { merge1, merge2, plan2, type ColumnStats } from './stats-merge.ts';
import { LOW_CARDINALITY, type ColumnSpec, type Partial1, type Partial2 } from './stats-sql.ts';
import type { StatsConfig } from './stats-stage.ts';

export interface DatasetStats {
  ref: string;
  rows: number;
  columns: ColumnStats[];
  label: LabelStats | null;
  /** map tasks per pass (one per part) */
  tasks: number;
}

export interface StatsOptions {
  label?: string;
  columns?: string[];
  topK?: number;
  runner?: Runner;
  onProgress?: (p: PlanProgress) => void;
  /** enters the run id: a new tag recomputes instead of reusing the tasks of an earlier run (benchmarks) */
  runTag?: string;
}

function statsPlan(m: Manifest, config: StatsConfig, runTag?: string): PlanSpec {
  const input = `${m.dataset}@${m.version}`;
  return {
    runId: runIdFor({ stage: 'stats', dataset: m.dataset, parent: m.version, config: runTag ? { config, runTag } : config, inputs: m.parts.map((p) => [p.sha256, p.deletes?.sha256 ?? null]) }),
    stage: 'stats',
    dataset: m.dataset,
    parent: m.version,
    config: { ...config, input } as unknown as Json,
    maps: m.parts.map((p, i) => ({ id: mapTaskId(i), input: p as unknown as Json })),
  };
}

/** Statistics of the version `refText` names. */
export async function computeStats(project: Project, refText: string, o: StatsOptions = {}): Promise<DatasetStats> {
  const m = await project.catalog.resolve(parseRef(refText));
  return statsOf(project, m, o);
}

export async function statsOf(project: Project, m: Manifest, o: StatsOptions = {}): Promise<DatasetStats> {
  requireRows(m);
  if (o.label) requireLabel(m, o.label);
  const chosen = o.columns?.length ? o.columns.map((n) => requireColumn(m, n, 'stats')) : userColumns(m);
  const cols: ColumnSpec[] = chosen.map((c) => ({ name: c.name, type: c.type, kind: kindOf(c.type) }));
  if (o.label && !cols.some((c) => c.name === o.label)) cols.push({ name: o.label, type: requireLabel(m, o.label).type, kind: kindOf(requireLabel(m, o.label).type) });
  const topK = o.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`--top must be a whole number ≥ 1, got ${topK}`);
  const runner = o.runner ?? (await makeRunner(project, 'local'));
  const input = `${m.dataset}@${m.version}`;
  const multi = m.parts.length > 1;

  // partials merge in task order, not finishing order, so floating-point sums are the same on every runner
  const inOrder = (plan: PlanSpec, outs: PlanOutputs) => plan.maps.map((t) => outs.maps.get(t.id)!.stats);
  const plan1 = statsPlan(m, { input, pass: 1, columns: cols, exactQuantiles: !multi }, o.runTag);
  const p1 = inOrder(plan1, await runTasks(project, plan1, runner, o.onProgress)) as unknown as { rows: number; cols: Record<string, Partial1> }[];
  const merged = merge1(cols, p1.map((p) => p.cols));
  const rows = p1.reduce((s, p) => s + p.rows, 0);

  const specs = plan2(merged, multi);
  const plan2spec = statsPlan(m, { input, pass: 2, columns: specs }, o.runTag);
  const p2 = inOrder(plan2spec, await runTasks(project, plan2spec, runner, o.onProgress)) as unknown as Record<string, Partial2>[];
  const columns = merge2(merged, specs, p2, rows, topK, multi);

  let label: LabelStats | null = null;
  if (o.label) {
    const lc = columns.find((c) => c.name === o.label)!;
    if (!lc.values) {
      throw new InputError(`label column ${JSON.stringify(o.label)} has about ${lc.distinct} distinct values; a label may have at most ${LOW_CARDINALITY} classes`, {
        hint: 'pick the column that holds the class, or bucket this one first',
      });
    }
    if (lc.missing > 0) {
      throw new InputError(`label column ${JSON.stringify(o.label)} is missing in ${lc.missing} of ${rows} rows of ${input}`, {
        hint: 'drop or fill the rows without a label first',
      });
    }
    label = labelStats(o.label, lc.values);
  }
  return { ref: input, rows, columns, label, tasks: m.parts.length };
}
