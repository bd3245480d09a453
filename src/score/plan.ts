// Planning bulk scoring (`sluice score`): checks the model, both versions, the id columns, the
// feature columns (candidate first, then context) and the --rank-by expression before anything runs,
// splits the candidates into row ranges (one map task each) and runs the `score` plan.
import { InputError, UsageError } from '../core/errors.ts';
import { scanSql } from '../core/dataset.ts';
import type { Manifest } from '../core/manifest.ts';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { ident } from '../engine/duckdb.ts';
import { executePlan, runIdFor } from '../engine/execute.ts';
import { type Json, mapTaskId, type PlanProgress, type PlanSpec, type Runner } from '../engine/plan.ts';
import { compileSpec } from '../model/features/compile.ts';
import type { FeatureSpec } from '../model/features/spec.ts';
import { scoringModel } from '../mine/model.ts';
import { exprNames, parseExpr } from './expr.ts';
import { splitSpec } from './features.ts';
import type { ScoreConfig, ScoreStats, ScoreTask } from './stage.ts';

export interface ScoreOptions {
  model: string;
  candidates: string;
  contexts: string;
  k: number;
  /** expression over `score` and numeric columns (default: the score) */
  rankBy?: string;
  /** id columns (default `_id`) */
  candidateId?: string;
  contextId?: string;
  /** output dataset (default `<candidates>-scores`) */
  into?: string;
  batchSize?: number;
  /** candidate rows per map task (default 1M) */
  rowsPerTask?: number;
}

export interface ScoreResult {
  manifest: Manifest;
  candidates: number;
  pairs: number;
  failedCandidates: number;
  failedContexts: string[];
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*|REAL)$/i;
const column = (m: Manifest, name: string) => m.schema.find((c) => c.name === name);

export async function planScore(project: Project, o: ScoreOptions): Promise<PlanSpec> {
  if (!(Number.isInteger(o.k) && o.k >= 1)) throw new UsageError(`--top-k must be a whole number ≥ 1, got ${o.k}`);
  const batchSize = o.batchSize ?? 8192;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 1 << 20)) throw new UsageError(`--batch-size must be 1…1048576, got ${batchSize}`);
  const rowsPerTask = o.rowsPerTask ?? 1_000_000;
  if (!(Number.isInteger(rowsPerTask) && rowsPerTask >= 1)) throw new UsageError(`--rows-per-task must be a whole number ≥ 1, got ${rowsPerTask}`);
  const { model, spec, output } = await scoringModel(project, o.model, 'scoring');
  const cands = await project.catalog.resolve(parseRef(o.candidates));
  const ctxs = await project.catalog.resolve(parseRef(o.contexts));
  const candidateId = o.candidateId ?? '_id';
  const contextId = o.contextId ?? '_id';
  if (!column(cands, candidateId)) throw new UsageError(`${cands.dataset}@${cands.version} has no candidate id column ${JSON.stringify(candidateId)}`, { hint: `its columns: ${cands.schema.map((c) => c.name).join(', ')}` });
  if (!column(ctxs, contextId)) throw new UsageError(`${ctxs.dataset}@${ctxs.version} has no context id column ${JSON.stringify(contextId)}`, { hint: `its columns: ${ctxs.schema.map((c) => c.name).join(', ')}` });
  const duck = await project.duck();
  const ids = await duck.one<{ n: number; d: number; nulls: number }>(`SELECT count(*)::DOUBLE AS n, count(DISTINCT ${ident(contextId)})::DOUBLE AS d, count_if(${ident(contextId)} IS NULL)::DOUBLE AS nulls FROM (${scanSql(project.dataDir, ctxs)})`);
  if (ids.d !== ids.n || ids.nulls > 0) throw new InputError(`context ids must be unique and not NULL: ${ctxs.dataset}@${ctxs.version} column ${contextId} has ${ids.n - ids.d} repeats and ${ids.nulls} NULLs`, { hint: 'name a unique column with --context-id' });

  const candCols = new Set(cands.schema.map((c) => c.name));
  const ctxCols = new Set(ctxs.schema.map((c) => c.name));
  const compiled = compileSpec(spec, { root: project.root });
  const split = splitSpec(spec, new Map(compiled.inputs.map((p) => [p.name, p.rowShape])), candCols, ctxCols);

  const rankColumns = { candidate: [] as string[], context: [] as string[] };
  if (o.rankBy !== undefined) {
    for (const name of exprNames(parseExpr(o.rankBy))) {
      if (name === 'score') continue;
      const side = column(cands, name) ? cands : column(ctxs, name) ? ctxs : null;
      if (!side) {
        throw new UsageError(`--rank-by ${JSON.stringify(o.rankBy)}: unknown column ${JSON.stringify(name)}`, {
          hint: `use score, a candidate column (${[...candCols].join(', ')}) or a context column (${[...ctxCols].join(', ')})`,
        });
      }
      const type = column(side, name)!.type;
      if (!NUMERIC.test(type)) throw new UsageError(`--rank-by ${JSON.stringify(o.rankBy)}: column ${name} of ${side.dataset}@${side.version} is ${type}, not a number`);
      rankColumns[side === cands ? 'candidate' : 'context'].push(name);
    }
  }
  // The candidate half plus `__meta`: the row's position (two exact float32 halves) and the
  // candidate columns --rank-by reads, so they arrive in the same batches as the features.
  const meta = ['__pos_hi', '__pos_lo', ...rankColumns.candidate].map((number) => ({ number }));
  const candidateSpec = { inputs: [...split.candidate, { name: '__meta', dtype: 'float32', features: meta }] } as FeatureSpec;
  const contextSpec = split.context.length ? ({ inputs: split.context } as FeatureSpec) : null;
  const dataset = o.into ?? `${cands.dataset}-scores`;
  assertName(dataset, 'dataset');

  const config: ScoreConfig = {
    candidates: cands,
    contexts: ctxs,
    model: { ref: model.ref, path: model.path, sha256: model.meta.sha256, root: project.root, output },
    layouts: split.layouts,
    candidateSpec,
    contextSpec,
    rankBy: o.rankBy ?? null,
    rankColumns,
    candidateId,
    contextId,
    k: o.k,
    batchSize,
    licences: [...cands.licences, ...ctxs.licences.filter((l) => !cands.licences.some((c) => JSON.stringify(c) === JSON.stringify(l)))],
  };
  const tasks: ScoreTask[] = [];
  cands.parts.forEach((p, part) => {
    for (let from = 0; from < p.rows; from += rowsPerTask) tasks.push({ part, from, to: Math.min(p.rows, from + rowsPerTask) });
  });
  if (!tasks.length) throw new InputError(`${cands.dataset}@${cands.version} has no candidate rows to score`);
  const parent = await project.catalog.head(dataset);
  const idConfig = { ...config, model: { ref: model.ref, sha256: model.meta.sha256, output }, candidates: `${cands.dataset}@${cands.version}`, contexts: `${ctxs.dataset}@${ctxs.version}` };
  return {
    runId: runIdFor({ stage: 'score', dataset, parent, config: idConfig, inputs: [...cands.parts, ...ctxs.parts].map((p) => p.sha256 + (p.deletes?.sha256 ?? '')) }),
    stage: 'score',
    dataset,
    parent,
    config: config as unknown as Json,
    maps: tasks.map((t, i) => ({ id: mapTaskId(i), input: t as unknown as Json })),
    shuffle: { key: [], partitions: 1 },
    reduce: true,
    maxAttempts: 2,
  };
}

/**
 * Scores every candidate against every context and keeps the top k per context.
 * @example await scoreCandidates(project, { model: 'ctr@2', candidates: 'ads@3', contexts: 'users@1', k: 100, rankBy: 'bid * score' }, runner)
 */
export async function scoreCandidates(project: Project, o: ScoreOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<ScoreResult> {
  const plan = await planScore(project, o);
  const manifest = await executePlan(project, plan, runner, onProgress);
  const e = manifest.extra as unknown as Omit<ScoreStats, 'failed' | 'failed_contexts'> & { failed_candidates: number; failed_contexts: string[] };
  return { manifest, candidates: e.candidates, pairs: e.pairs, failedCandidates: e.failed_candidates, failedContexts: e.failed_contexts };
}
