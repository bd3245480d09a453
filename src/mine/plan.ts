// Planning hard-example mining (`sluice mine`): checks the model, the pool's columns and the
// options before anything runs, executes the `mine` plan, and with `review` sends the picks to the
// review queue as label items, best first.
import { InputError, UsageError } from '../core/errors.ts';
import { scanSql } from '../core/dataset.ts';
import { configHash } from '../core/hash.ts';
import type { Manifest } from '../core/manifest.ts';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { executePlan, runIdFor } from '../engine/execute.ts';
import { type Json, mapTaskId, type PlanProgress, type PlanSpec, type Runner } from '../engine/plan.ts';
import { specColumns } from '../model/features/spec.ts';
import type { InferConfig } from '../model/infer/stage.ts';
import type { ReviewItemInput } from '../review/types.ts';
import { scoringModel } from './model.ts';
import { type MineConfig, type MineStats, P_COL } from './stage.ts';
import { needsLabel, type Strategy } from './strategy.ts';

export interface MineOptions {
  model: string;
  data: string;
  strategy: Strategy;
  count: number;
  /** 0/1 label column (default `label`) */
  label?: string;
  capPerClass?: number;
  threshold?: number;
  /** training version whose rows are not picked again */
  exclude?: string;
  /** column compared with the training rows besides `_id` */
  key?: string;
  /** send the picks to the review queue for a label */
  review?: boolean;
  /** output dataset: default the `exclude` dataset (appending), or `<data>-mined` (always with review) */
  into?: string;
  batchSize?: number;
}

export interface MineResult {
  manifest: Manifest;
  picked: number;
  unscored: number;
  /** review items added (with `review`) */
  reviewItems: number;
}

const has = (m: Manifest, col: string) => m.schema.some((c) => c.name === col);

export async function planMine(project: Project, o: MineOptions): Promise<PlanSpec> {
  const { model, spec, output } = await scoringModel(project, o.model, 'mining');
  const pool = await project.catalog.resolve(parseRef(o.data));
  if (!pool.parts.length) throw new InputError(`${pool.dataset}@${pool.version} has no rows to mine`);
  const missing = specColumns(spec).filter((c) => !has(pool, c));
  if (missing.length) throw new InputError(`${pool.dataset}@${pool.version} has no column ${missing.join(', ')}, which model ${model.ref} reads`, { hint: `its columns: ${pool.schema.map((c) => c.name).join(', ')}` });
  const label = o.label ?? 'label';
  if (needsLabel(o.strategy) && !has(pool, label)) throw new UsageError(`${o.strategy} needs a 0/1 label, and ${pool.dataset}@${pool.version} has no column ${JSON.stringify(label)}`, { hint: 'name it with --label <column>' });
  if (!(Number.isInteger(o.count) && o.count >= 1)) throw new UsageError(`the number of examples to mine must be a whole number ≥ 1, got ${o.count}`);
  if (o.capPerClass !== undefined && !(Number.isInteger(o.capPerClass) && o.capPerClass >= 1)) throw new UsageError(`--cap-per-class must be a whole number ≥ 1, got ${o.capPerClass}`);
  if (o.threshold !== undefined && !Number.isFinite(o.threshold)) throw new UsageError(`--threshold must be a number, got ${o.threshold}`);
  for (const c of ['mined_by', 'mine_score', P_COL]) if (has(pool, c)) throw new UsageError(`${pool.dataset}@${pool.version} already has a column ${c}, which mining writes`, { hint: 'drop or rename it first' });
  let exclude: MineConfig['exclude'] = null;
  if (o.exclude) {
    const train = await project.catalog.resolve(parseRef(o.exclude));
    if (o.key && !(has(train, o.key) && has(pool, o.key))) throw new UsageError(`--key ${o.key}: both ${pool.dataset}@${pool.version} and ${train.dataset}@${train.version} need that column`);
    exclude = { manifest: train, key: o.key ?? null };
  } else if (o.key) throw new UsageError('--key compares with the training rows: give --exclude <training ref> too');
  const dataset = o.into ?? (exclude && !o.review ? exclude.manifest.dataset : `${pool.dataset}-mined`);
  assertName(dataset, 'dataset');
  const batchSize = o.batchSize ?? 8192;
  const infer: InferConfig = {
    input: `${pool.dataset}@${pool.version}`,
    model: { ref: model.ref, path: model.path, sha256: model.meta.sha256, root: project.root },
    spec,
    outputs: [{ output, column: P_COL, type: 'float32', width: 1 }],
    keep: 'all',
    batchSize,
    licences: pool.licences,
  };
  const config: MineConfig = {
    infer,
    strategy: o.strategy,
    count: o.count,
    label,
    hasLabel: has(pool, label),
    capPerClass: o.capPerClass ?? null,
    threshold: o.threshold ?? null,
    exclude,
    target: null,
    minedBy: `${model.ref} ${o.strategy}`,
    request: configHash({
      model: model.meta.sha256,
      pool: infer.input,
      options: { strategy: o.strategy, count: o.count, label, cap: o.capPerClass ?? null, threshold: o.threshold ?? null, key: o.key ?? null, review: Boolean(o.review), batchSize },
      exclude: exclude ? `${exclude.manifest.dataset}@${exclude.manifest.version}` : null,
      dataset,
    }),
    licences: pool.licences,
  };
  const parent = await project.catalog.head(dataset);
  config.target = parent === null ? null : await project.catalog.manifest(dataset, parent);
  const idConfig = { ...config, infer: { ...infer, model: { ref: model.ref, sha256: model.meta.sha256 } }, review: Boolean(o.review) };
  return {
    runId: runIdFor({ stage: 'mine', dataset, parent, config: idConfig, inputs: pool.parts.map((p) => p.sha256 + (p.deletes?.sha256 ?? '')) }),
    stage: 'mine',
    dataset,
    parent,
    config: config as unknown as Json,
    maps: pool.parts.map((p, i) => ({ id: mapTaskId(i), input: p as unknown as Json })),
    shuffle: { key: [], partitions: 1 },
    reduce: true,
    maxAttempts: 2,
  };
}

/**
 * Scores a pool with a model and commits the hardest examples (or queues them for review).
 * @example await mine(project, { model: 'ctr@1', data: 'pool@1', strategy: 'hard-negatives', count: 500, exclude: 'train@2' }, runner)
 */
export async function mine(project: Project, o: MineOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<MineResult> {
  const plan = await planMine(project, o);
  const c = plan.config as unknown as MineConfig;
  // The same request already committed on this head (a rerun, e.g. after a crash before the review
  // items were added): return it instead of appending the next-hardest rows.
  const manifest = c.target?.extra?.request === c.request ? c.target : await executePlan(project, plan, runner, onProgress);
  const stats = manifest.extra as unknown as MineStats;
  const reviewItems = o.review ? await queuePicks(project, manifest, c) : 0;
  return { manifest, picked: stats.picked, unscored: stats.unscored, reviewItems };
}

/** Label items for the picks of a mined version, priority = mine_score (served best first). Idempotent. */
async function queuePicks(project: Project, m: Manifest, c: MineConfig): Promise<number> {
  const duck = await project.duck();
  const picks = m.parts.at(-1)!;
  const rows = await duck.all<Record<string, unknown>>(`SELECT * FROM (${scanSql(project.dataDir, { ...m, parts: [picks] })}) ORDER BY mine_score DESC, _id`);
  const items: ReviewItemInput[] = rows.map((row) => {
    const record = Object.fromEntries(Object.entries(row).filter(([k]) => k !== '_id' && k !== '_source').map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v]));
    const source = (row._source as { source?: string } | null)?.source;
    return {
      dataset: m.dataset,
      record_id: String(row._id),
      kind: 'label',
      record,
      fields: [c.label],
      reasons: [{ message: `mined by ${c.minedBy}: score ${Number(row.mine_score).toFixed(4)}` }],
      priority: Number(row.mine_score),
      ...(source ? { source } : {}),
      routed_in: `${m.dataset}@${m.version}`,
      labels: ['0', '1'],
      label_field: c.label,
    };
  });
  const { addReviewItems } = await import('../review/store.ts');
  return addReviewItems(project, items);
}
