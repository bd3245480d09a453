// `sluice feedback dataset`: a training version from feedback examples, optionally joined point in
// time (the curate stage's ASOF joins) with feature datasets as they were when each prediction was
// made; lineage: parents (the feedback and joined versions), each row's prediction_id, model and
// model_version, and the models in the manifest.
import { SYSTEM_COLUMNS, describeFile, scanSql } from '../../core/dataset.ts';
import { UsageError } from '../../core/errors.ts';
import { configHash } from '../../core/hash.ts';
import type { Manifest } from '../../core/manifest.ts';
import { assertName } from '../../core/names.ts';
import type { Project } from '../../core/project.ts';
import { parseRef } from '../../core/ref.ts';
import { runIdFor } from '../../engine/execute.ts';
import { ident, lit } from '../../engine/duckdb.ts';
import { applyJoins, loadJoinTables, type Join } from '../../curate/joins.ts';
import type { FieldType } from '../../curate/field-types.ts';
import type { Pipeline } from '../../curate/pipeline.ts';
import { safeJoin } from '../../core/names.ts';
import { FEEDBACK_DATASET } from './run.ts';
import { fieldColumn } from './recompute.ts';

export interface PitJoin {
  /** dataset ref, e.g. user-features@latest */
  dataset: string;
  /** feedback field = dataset column (same name unless `field=column`) */
  on: [string, string][];
  /** the dataset's column saying from when a row's values hold */
  as_of: string;
}

export interface DatasetOptions {
  from?: string;
  into: string;
  joins?: PitJoin[];
  model?: string;
  /** epoch ms */
  since?: number;
}

function fieldType(duckType: string): FieldType {
  const t = duckType.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT)$/.test(t)) return 'int';
  if (/^(FLOAT|DOUBLE|REAL|DECIMAL.*)$/.test(t)) return 'float';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'DATE') return 'date';
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  return 'string';
}

/** Builds `into`@next from the feedback version (default feedback@latest); rerunning the same build returns the same version. */
export async function buildTrainingData(project: Project, o: DatasetOptions): Promise<Manifest> {
  assertName(o.into, 'dataset');
  const fb = await project.catalog.resolve(parseRef(o.from ?? FEEDBACK_DATASET));
  if (!fb.schema.some((c) => c.name === 'prediction_id') || !fb.schema.some((c) => c.name === 'label')) {
    throw new UsageError(`${fb.dataset}@${fb.version} is not a feedback dataset (no prediction_id or label column)`, { hint: 'pass --from <feedback dataset@version>' });
  }
  const have = new Set(fb.schema.map((c) => c.name));
  // Joined datasets: resolved now (so the run id names exact versions), their columns become fields.
  const joins: Join[] = [];
  const joined: { name: string; type: FieldType }[] = [];
  const parents = [`${fb.dataset}@${fb.version}`];
  for (const j of o.joins ?? []) {
    const m = await project.catalog.resolve(parseRef(j.dataset));
    parents.push(`${m.dataset}@${m.version}`);
    for (const [f] of j.on) if (!have.has(fieldColumn(f))) throw new UsageError(`--on ${f}: ${fb.dataset}@${fb.version} has no field ${f}`, { hint: `columns: ${[...have].join(', ')}` });
    const skip = new Set([...j.on.map(([, c]) => c), j.as_of, ...SYSTEM_COLUMNS]);
    const columns: Record<string, string> = {};
    for (const c of m.schema.filter((c) => !skip.has(c.name))) {
      if (have.has(c.name) || joined.some((x) => x.name === c.name)) throw new UsageError(`${m.dataset}@${m.version}: column ${c.name} is already in the training data`, { hint: 'rename it in that dataset, or join a version without it' });
      columns[c.name] = c.name;
      joined.push({ name: c.name, type: fieldType(c.type) });
    }
    joins.push({ dataset: `${m.dataset}@${m.version}`, on: Object.fromEntries(j.on.map(([f, c]) => [fieldColumn(f), c])), time: 'predicted_at', as_of: j.as_of, columns });
  }
  // applyJoins reads only `joins` and the joined fields' types from a pipeline
  const pipeline = { joins, schema: joined } as unknown as Pipeline;
  const config = { from: parents[0], joins, model: o.model ?? null, since: o.since ?? null };
  const head = await project.catalog.head(o.into);
  const runId = runIdFor({ stage: 'feedback-dataset', dataset: o.into, parent: head, config, inputs: parents });
  const duck = await project.duck();
  await loadJoinTables(duck, project.catalog, project.dataDir, pipeline);
  const where = [...(o.model ? [`model = ${lit(o.model)}`] : []), ...(o.since !== undefined ? [`epoch_ms(predicted_at) >= ${Math.floor(o.since)}`] : [])];
  const placeholders = joined.map((f) => `, NULL AS ${ident(f.name)}`).join('');
  const base = `SELECT *${placeholders} FROM (${scanSql(project.dataDir, fb)})${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  // Sorted by prediction, so a rebuild writes the same rows in the same order.
  const rel = `feedback-dataset/${runId}/part-0.parquet`;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(safeJoin(project.dataDir, `feedback-dataset/${runId}`), { recursive: true });
  await duck.run(`COPY (SELECT * FROM (${applyJoins(pipeline, base)}) ORDER BY prediction_id) TO ${lit(safeJoin(project.dataDir, rel))} (FORMAT parquet)`);
  const part = await describeFile(duck, project.dataDir, rel);
  const schema = (await duck.describe(`(SELECT * FROM read_parquet(${lit(safeJoin(project.dataDir, rel))}))`)).map((c) => ({ name: c.name, type: c.type, nullable: !SYSTEM_COLUMNS.includes(c.name as never) }));
  const models = (await duck.all<{ m: string }>(`SELECT DISTINCT model || '@' || model_version AS m FROM read_parquet(${lit(safeJoin(project.dataDir, rel))}) ORDER BY 1`)).map((r) => r.m);
  const licences = [...fb.licences];
  for (const p of parents.slice(1)) licences.push(...(await project.catalog.resolve(parseRef(p))).licences);
  return project.catalog.commit(
    o.into,
    head,
    {
      schema,
      parts: [part],
      rows: part.rows,
      parents,
      operation: 'feedback-dataset',
      config_hash: configHash(config),
      config,
      licences,
      run_id: runId,
      extra: { lineage: { feedback: parents[0], models, predictions: part.rows, joined: parents.slice(1) } },
    },
    runId,
  );
}
