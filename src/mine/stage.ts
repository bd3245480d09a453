// The `mine` stage: map tasks score the pool's parts with the batch-inference stage itself (same
// reader, backend and dead-letter handling; the probability lands in a hidden column), one reduce
// task selects across all parts (strategy, threshold, exclusion, per-class caps, count) and writes
// the picks with their provenance, and the commit appends them to the target dataset's head.
import { describeFile, partSql, scanSql, SYSTEM_COLUMNS } from '../core/dataset.ts';
import { configHash } from '../core/hash.ts';
import type { Licence, Manifest, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit } from '../engine/duckdb.ts';
import type { Json, Stage } from '../engine/plan.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { InferConfig } from '../model/infer/stage.ts';
import { inferStage } from '../model/infer/stage.ts';
import { needsLabel, poolSql, scoreSql, type Strategy } from './strategy.ts';

/** The hidden column the inference step writes the probability to. */
export const P_COL = '__mine_p';

export interface MineConfig {
  infer: InferConfig;
  strategy: Strategy;
  count: number;
  label: string;
  /** the pool has the label column (uncertainty strategies cap by the predicted class otherwise) */
  hasLabel: boolean;
  capPerClass: number | null;
  threshold: number | null;
  /** the training version whose rows are excluded, and the key column compared besides `_id` */
  exclude: { manifest: Manifest; key: string | null } | null;
  /** the output dataset's head: its rows are never picked again (appending twice would duplicate) */
  target: Manifest | null;
  minedBy: string;
  /** hash of the request (model, pool, options, output): a rerun of a committed request returns it */
  request: string;
  licences: Licence[];
}

export interface MineStats {
  picked: number;
  /** rows whose features failed, so they were never scored */
  unscored: number;
}

/** SELECT of the picks, best first, with `mined_by` and `mine_score` last. */
export function selectSql(scored: string, c: MineConfig, dataDir: string): string {
  const y = `TRY_CAST(${ident(c.label)} AS DOUBLE)`;
  const cls = needsLabel(c.strategy) ? `${y}::VARCHAR` : c.hasLabel ? `${ident(c.label)}::VARCHAR` : `(${P_COL} >= 0.5)::INTEGER::VARCHAR`;
  const where = [`${P_COL} IS NOT NULL`, poolSql(c.strategy, y)];
  if (c.exclude) {
    const train = scanSql(dataDir, c.exclude.manifest);
    where.push(`_id NOT IN (SELECT _id FROM (${train}) WHERE _id IS NOT NULL)`);
    const k = c.exclude.key ? ident(c.exclude.key) : null;
    if (k) where.push(`(${k} IS NULL OR ${k} NOT IN (SELECT ${k} FROM (${train}) WHERE ${k} IS NOT NULL))`);
  }
  if (c.target) where.push(`_id NOT IN (SELECT _id FROM (${scanSql(dataDir, c.target)}) WHERE _id IS NOT NULL)`);
  const scoredRows = `SELECT *, ${scoreSql(c.strategy, P_COL, y)} AS __score, ${cls} AS __class FROM (${scored}) WHERE ${where.join(' AND ')}`;
  const kept = c.threshold === null ? `SELECT * FROM (${scoredRows})` : `SELECT * FROM (${scoredRows}) WHERE __score >= ${c.threshold}`;
  const capped = c.capPerClass === null ? kept : `SELECT * FROM (${kept}) QUALIFY row_number() OVER (PARTITION BY __class ORDER BY __score DESC, _id) <= ${c.capPerClass}`;
  return (
    `SELECT * EXCLUDE (${P_COL}, __score, __class), ${lit(c.minedBy)} AS mined_by, __score AS mine_score ` +
    `FROM (${capped}) ORDER BY __score DESC, _id LIMIT ${c.count}`
  );
}

export const mineStage: Stage = {
  name: 'mine',

  async map(ctx, task) {
    const c = ctx.plan.config as unknown as MineConfig;
    // Batch inference's own map task, given the inference part of this plan's config.
    const out = await inferStage.map({ ...ctx, plan: { ...ctx.plan, config: c.infer as unknown as Json } }, task);
    const part = out.parts![0]!;
    const failed = (out.stats as { failed?: number } | undefined)?.failed ?? 0;
    return { shuffle: { '0': [part] }, stats: { unscored: failed } };
  },

  async reduce(ctx, _partition, inputs) {
    const c = ctx.plan.config as unknown as MineConfig;
    const dataDir = ctx.env.dataDir;
    const scored = (inputs as Part[]).map((p) => `(${partSql(dataDir, p)})`).join(' UNION ALL BY NAME ');
    const rel = `${ctx.outDir}/mined.parquet`;
    await ctx.duck.run(`COPY (${selectSql(scored, c, dataDir)}) TO ${lit(safeJoin(dataDir, rel))} (${parquetWriterOptions()})`);
    const part = await describeFile(ctx.duck, dataDir, rel);
    return { parts: [part], stats: { picked: part.rows } };
  },

  async commit(plan, outputs, head, { duck, dataDir }) {
    const c = plan.config as unknown as MineConfig;
    const mined = outputs.reduces.get('r00000')!.parts![0] as Part;
    const unscored = [...outputs.maps.values()].reduce((n, o) => n + Number((o.stats as { unscored?: number } | undefined)?.unscored ?? 0), 0);
    // Appending: the head's parts stay shared, the picks are one new part.
    const parts = [...(head?.parts ?? []), mined];
    const draft = { format: 1 as const, dataset: plan.dataset, version: 1, created_at: '', schema: [], parts, rows: 0, parents: [], operation: '', config_hash: '', licences: [] };
    const schema = (await duck.describe(`(${scanSql(dataDir, draft)})`)).map((col) => ({ name: col.name, type: col.type, nullable: !SYSTEM_COLUMNS.includes(col.name as never) }));
    const licences = [...(head?.licences ?? []), ...c.licences.filter((l) => !(head?.licences ?? []).some((h) => JSON.stringify(h) === JSON.stringify(l)))];
    const stats: MineStats = { picked: mined.rows, unscored };
    return {
      schema,
      parts,
      rows: (head?.rows ?? 0) + mined.rows,
      parents: [c.infer.input, ...(c.exclude ? [`${c.exclude.manifest.dataset}@${c.exclude.manifest.version}`] : []), ...(head ? [`${head.dataset}@${head.version}`] : [])].filter((v, i, a) => a.indexOf(v) === i),
      operation: 'mine',
      config_hash: configHash(plan.config),
      config: { pool: c.infer.input, model: c.infer.model.ref, sha256: c.infer.model.sha256, strategy: c.strategy, count: c.count, label: c.label, cap_per_class: c.capPerClass, threshold: c.threshold, exclude: c.exclude ? `${c.exclude.manifest.dataset}@${c.exclude.manifest.version}` : null, key: c.exclude?.key ?? null },
      licences,
      extra: { model: c.infer.model.ref, mined_by: c.minedBy, request: c.request, ...stats } as Record<string, unknown>,
    };
  },
};
