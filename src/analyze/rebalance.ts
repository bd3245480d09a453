// `rebalance`: seeded over- or undersampling of a label's classes, or a class-weight column; the
// new version records the balance before and after and the sampling rates a trainer calibrates with.
import { InputError, UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { scanSql } from '../core/dataset.ts';
import { ident } from '../engine/duckdb.ts';
import { executePlan, makeRunner, runIdFor } from '../engine/execute.ts';
import { mapTaskId, type Json, type PlanProgress, type Runner } from '../engine/plan.ts';
import { labelStats } from './balance.ts';
import { requireLabel, requireRows } from './columns.ts';
import type { RebalanceConfig } from './rebalance-stage.ts';

export interface RebalanceOptions {
  label: string;
  oversample?: number;
  undersample?: number;
  weights?: boolean;
  seed?: number;
  weightColumn?: string;
  /** dataset to write (default: a new version of the input's dataset) */
  out?: string;
  runner?: Runner;
  onProgress?: (p: PlanProgress) => void;
}

/** Rows per class after resampling: oversampling grows each class to ≥ r × the largest; undersampling cuts each to ≤ smallest / r. */
export function targets(before: Record<string, number>, method: 'oversample' | 'undersample' | 'weights', r: number | null): Record<string, number> {
  const counts = Object.values(before);
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  return Object.fromEntries(
    Object.entries(before).map(([k, n]) => [k, method === 'oversample' ? Math.max(n, Math.ceil(r! * max)) : method === 'undersample' ? Math.min(n, Math.floor(min / r!)) : n]),
  );
}

export async function rebalanceVersion(project: Project, refText: string, o: RebalanceOptions): Promise<Manifest> {
  const m = await project.catalog.resolve(parseRef(refText));
  requireRows(m);
  const label = requireLabel(m, o.label);
  const chosen = [o.oversample !== undefined, o.undersample !== undefined, Boolean(o.weights)].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('give exactly one of --oversample <r>, --undersample <r> or --weights');
  const method = o.oversample !== undefined ? 'oversample' : o.undersample !== undefined ? 'undersample' : 'weights';
  const ratio = o.oversample ?? o.undersample ?? null;
  if (ratio !== null && !(ratio > 0 && ratio <= 1)) throw new UsageError(`--${method} ${ratio}: the ratio must be in (0, 1], the minority:majority ratio to reach`, { hint: 'e.g. --oversample 0.2 grows every class to at least 1:5 of the largest' });
  const weightColumn = o.weightColumn ?? 'weight';
  if (method === 'weights' && m.schema.some((c) => c.name === weightColumn)) throw new UsageError(`${m.dataset}@${m.version} already has a column ${JSON.stringify(weightColumn)}`, { hint: 'name the weight column with --weight-column' });

  const duck = await project.duck();
  const y = ident(label.name);
  const counts = await duck.all<{ v: string | null; n: number }>(`SELECT ${y}::VARCHAR AS v, count(*)::DOUBLE AS n FROM (${scanSql(project.dataDir, m)}) GROUP BY 1 ORDER BY 1`);
  const nulls = counts.find((c) => c.v === null);
  if (nulls) throw new InputError(`label column ${JSON.stringify(label.name)} is empty in ${nulls.n} rows of ${m.dataset}@${m.version}`, { hint: 'drop or fill the rows without a label first' });
  const before = Object.fromEntries(counts.map((c) => [c.v!, Number(c.n)]));
  if (Object.keys(before).length < 2) throw new InputError(`label column ${JSON.stringify(label.name)} has one class only (${Object.keys(before).join('')}); nothing to rebalance`);
  const after = targets(before, method, ratio);
  const weights = method === 'weights' ? labelStats(label.name, before).weights.inverse : null;

  const out = assertName(o.out ?? m.dataset, 'dataset');
  const config: RebalanceConfig = { input: `${m.dataset}@${m.version}`, label: label.name, method, ratio, seed: o.seed ?? 0, weightColumn, before, after, weights };
  const parent = await project.catalog.head(out);
  const plan = {
    runId: runIdFor({ stage: 'rebalance', dataset: out, parent, config, inputs: m.parts.map((p) => [p.sha256, p.deletes?.sha256 ?? null]) }),
    stage: 'rebalance',
    dataset: out,
    parent,
    config: { ...config, licences: m.licences as unknown as Json },
    maps: [{ id: mapTaskId(0), input: { parts: m.parts } as unknown as Json }],
  };
  const runner = o.runner ?? (await makeRunner(project, 'local'));
  return executePlan(project, plan, runner, o.onProgress);
}
