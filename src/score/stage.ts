// The `score` stage: each map task takes a row range of one candidates part, computes the
// candidates' features once per batch, and for every context fills in the context's features,
// runs the model, evaluates --rank-by over the batch and offers each candidate to that context's
// bounded heap. It writes its per-context top k; one reduce task merges them into the final top k.
import { describeFile, scanSql } from '../core/dataset.ts';
import { configHash, sha256File } from '../core/hash.ts';
import { IntegrityError } from '../core/errors.ts';
import type { Licence, Manifest, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { phaseClock } from '../engine/profile.ts';
import type { Json, Stage } from '../engine/plan.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import { partRowsSql } from '../analyze/rows.ts';
import { OnnxThread } from '../model/backends/onnx-thread.ts';
import { compileSpec } from '../model/features/compile.ts';
import { FeatureError, type Out } from '../model/features/kernels.ts';
import { type FeatureSpec, specColumns } from '../model/features/spec.ts';
import { type ModelBatch, readBatches } from '../model/infer/reader.ts';
import { evalExpr, parseExpr, Scratch, type Value } from './expr.ts';
import { contextFill, copyCandidate, type Layout } from './features.ts';
import { TopK } from './topk.ts';

export interface ScoreConfig {
  candidates: Manifest;
  contexts: Manifest;
  model: { ref: string; path: string; sha256: string; root: string; output: string };
  layouts: Layout[];
  /** the candidate half of the spec plus `__meta` (position, candidate rank-by columns) */
  candidateSpec: FeatureSpec;
  contextSpec: FeatureSpec | null;
  rankBy: string | null;
  rankColumns: { candidate: string[]; context: string[] };
  candidateId: string;
  contextId: string;
  k: number;
  batchSize: number;
  licences: Licence[];
}

export interface ScoreTask {
  part: number;
  from: number;
  to: number;
}

export interface ScoreStats {
  candidates: number;
  /** candidates whose features (or rank-by columns) failed: never ranked */
  failed: number;
  pairs: number;
  /** contexts whose features failed: they get no rows */
  failed_contexts: string[];
}

const META = '__meta';
const POS_SPLIT = 4096;
/** jobs queued on the model's thread at once (double buffering) */
const JOBS = 2;
/** at most this many contexts per job */
const JOB_CONTEXTS = 16;

/** A batch of candidates as ranking needs it, alive until its last context's scores are ranked. */
interface Candidates {
  n: number;
  positions: Float64Array;
  /** 1 where the candidate's features failed: scored with zeros, never ranked */
  skip: Uint8Array;
  /** the candidate columns --rank-by reads */
  columns: Map<string, Float32Array>;
  /** jobs of this batch not ranked yet */
  jobsLeft: number;
  release(): void;
}

/** One set of shared base rows on the model's thread and the job queued on it. */
interface JobSet {
  index: number;
  /** the batch whose candidate half the base rows hold */
  batch: Candidates | null;
  job: { run: Promise<Float32Array[]>; cand: Candidates; contexts: number[] } | null;
}

function candidates(b: ModelBatch, rankColumns: string[], jobs: number): Candidates {
  const n = b.rows;
  const meta = b.inputs[META]!;
  const stride = meta.dims[1]!;
  const m = meta.data as Float32Array;
  const column = (j: number) => m.subarray(j * stride, j * stride + n);
  const hi = column(0);
  const lo = column(1);
  const positions = new Float64Array(n);
  for (let i = 0; i < n; i++) positions[i] = hi[i]! * POS_SPLIT + lo[i]!;
  const skip = new Uint8Array(n);
  for (const i of b.failed.keys()) skip[i] = 1;
  return { n, positions, skip, columns: new Map(rankColumns.map((name, j) => [name, column(2 + j)])), jobsLeft: jobs, release: () => b.release() };
}

/** Context rows in a fixed order (by id): map tasks and the reduce number them the same way. */
export const contextsSql = (dataDir: string, c: ScoreConfig, cols: string) => `SELECT ${cols} FROM (${scanSql(dataDir, c.contexts)}) ORDER BY ${ident(c.contextId)}`;

const verified = new Set<string>();

export const scoreStage: Stage = {
  name: 'score',

  async map(ctx, task) {
    const c = ctx.plan.config as unknown as ScoreConfig;
    const t = task.input as unknown as ScoreTask;
    const part = c.candidates.parts[t.part]!;
    const dataDir = ctx.env.dataDir;
    const { duck } = ctx;
    if (!verified.has(c.model.sha256)) {
      const sha = await sha256File(c.model.path);
      if (sha !== c.model.sha256) throw new IntegrityError(`model ${c.model.ref}: ${c.model.path} changed since the plan was made`, { hint: 'restore the file or rerun with the new version' });
      verified.add(c.model.sha256);
    }

    // Contexts: features and rank-by values once each.
    const ctxCols = [`${ident(c.contextId)}::VARCHAR AS __cid`, ...[...new Set([...(c.contextSpec ? specColumns(c.contextSpec) : []), ...c.rankColumns.context])].map(ident)];
    const ctxRows = await duck.all<Record<string, unknown>>(contextsSql(dataDir, c, ctxCols.join(', ')));
    const ctxCompiled = c.contextSpec ? compileSpec(c.contextSpec, { root: c.model.root }) : null;
    const ctxFeatures: (Record<string, Out> | null)[] = [];
    const failedContexts: string[] = [];
    for (const r of ctxRows) {
      try {
        ctxFeatures.push(ctxCompiled ? await ctxCompiled.row(r) : {});
      } catch (e) {
        if (!(e instanceof FeatureError)) throw e;
        ctxFeatures.push(null);
        failedContexts.push(String(r.__cid));
      }
    }

    const deletes = part.deletes ? ` AND file_row_number NOT IN (SELECT pos FROM read_parquet(${lit(safeJoin(dataDir, part.deletes.path))}))` : '';
    const relation =
      `(SELECT *, (file_row_number // ${POS_SPLIT})::FLOAT AS __pos_hi, (file_row_number % ${POS_SPLIT})::FLOAT AS __pos_lo ` +
      `FROM read_parquet(${lit(safeJoin(dataDir, part.path))}, file_row_number = true) WHERE file_row_number >= ${t.from} AND file_row_number < ${t.to}${deletes})`;
    // Inputs are row-major, as the model takes them: a feature-major input with a Transpose in front
    // of the graph saves the interleaving here but costs ONNX Runtime more per run than the whole
    // fill (measured 1.0 vs 1.4 CPU-ms per run of 8192 × 32, fill 0.05 ms).
    const layouts = c.layouts;
    const fills = ctxFeatures.map((cf) => (cf ? layouts.map((l) => contextFill(l, cf)) : null));
    const scoredContexts = fills.filter((f) => f).length;
    const model = await OnnxThread.open(c.model.path, c.model.sha256, ctx.env.threads);
    const expr = c.rankBy ? parseExpr(c.rankBy) : null;
    const scratch = new Scratch();
    const heaps = new TopK(ctxRows.length, c.k);
    const stats: ScoreStats = { candidates: 0, failed: 0, pairs: 0, failed_contexts: failedContexts };
    // The model runs on its own thread. A job is one batch (its candidate half interleaved once into
    // a set of shared base rows) against up to JOB_CONTEXTS contexts: the thread writes each
    // context's values into every row and runs the model. While it runs one job, this thread ranks
    // the last job's scores, fills the next set and reads the next batch.
    const group = Math.max(1, Math.min(scoredContexts, JOB_CONTEXTS));
    const jobsPerBatch = Math.ceil(scoredContexts / group);
    const variants = fills.map((f) => (f ?? layouts.map(() => null)).map((v) => (v ? { offsets: v.offsets, values: v.values } : null)));
    const shared = model.slots(layouts.map((l) => ({ name: l.name, type: l.dtype, rowShape: l.rowShape })), c.model.output, 1, c.batchSize, JOBS, group, variants);
    const sets: JobSet[] = Array.from({ length: JOBS }, (_, index) => ({ index, batch: null, job: null }));

    const rank = (cand: Candidates, ci: number, scores: Float32Array) => {
      const { n, positions, skip } = cand;
      const value: Value = expr ? evalExpr(expr, (name) => (name === 'score' ? scores : (cand.columns.get(name) ?? Number(ctxRows[ci]![name]))), n, scratch) : scores;
      if (typeof value === 'number') for (let i = 0; i < n; i++) (skip[i] ? 0 : heaps.offer(ci, value, positions[i]!, scores[i]!));
      else {
        // Inline floor check: once a heap is full, most candidates fail this one comparison.
        let floor = heaps.floor(ci);
        for (let i = 0; i < n; i++) {
          const v = value[i]!;
          if (v < floor || skip[i]) continue;
          heaps.offer(ci, v, positions[i]!, scores[i]!);
          floor = heaps.floor(ci);
        }
      }
    };
    /** Waits for the set's job and ranks its scores. */
    const finish = async (set: JobSet) => {
      const scores = await set.job!.run;
      const { cand, contexts } = set.job!;
      set.job = null;
      contexts.forEach((ci, j) => rank(cand, ci, scores[j]!));
      if (--cand.jobsLeft === 0) cand.release();
    };
    /** Puts a batch's candidate half into a set (unless it holds it already) and queues the set's job against some contexts. */
    const submit = async (set: JobSet, b: ModelBatch, cand: Candidates, contexts: number[]) => {
      if (set.job) await finish(set);
      clock.lap('model+rank');
      if (set.batch !== cand) layouts.forEach((l, i) => copyCandidate(l, shared.base[set.index]![i]!.subarray(0, cand.n * l.rowSize) as Float32Array | BigInt64Array, cand.n, b.inputs[l.name]));
      set.batch = cand;
      const run = shared.run(set.index, cand.n, contexts);
      run.catch(() => {}); // awaited in finish(); this keeps a failure from being unhandled meanwhile
      set.job = { run, cand, contexts };
      clock.lap('fill');
    };

    const clock = phaseClock();
    try {
      await scoreAll();
    } finally {
      shared.close();
    }
    clock.lap('model+rank');
    async function scoreAll() {
      // Reads batch k + 1 while batch k is scored against every context.
      const batches = readBatches(duck, c.candidateSpec, relation, c.batchSize, c.model.root);
      let next = batches.next();
      let seq = 0;
      for (;;) {
        clock.lap('setup');
        const got = await next;
        clock.lap('read');
        if (got.done) break;
        const b = got.value;
        next = batches.next();
        const cand = candidates(b, c.rankColumns.candidate, jobsPerBatch);
        stats.candidates += cand.n;
        stats.failed += b.failed.size;
        if (cand.jobsLeft === 0) b.release(); // every context failed: nothing to score
        let contexts: number[] = [];
        for (let ci = 0; ci < ctxRows.length; ci++) {
          if (!fills[ci]) continue;
          contexts.push(ci);
          stats.pairs += cand.n - b.failed.size;
          if (contexts.length < group) continue;
          await submit(sets[seq++ % JOBS]!, b, cand, contexts);
          contexts = [];
        }
        if (contexts.length) await submit(sets[seq++ % JOBS]!, b, cand, contexts);
        ctx.progress(stats.candidates);
      }
      for (let k = 0; k < JOBS; k++) {
        const set = sets[(seq + k) % JOBS]!;
        if (set.job) await finish(set);
      }
    }

    // This task's top k per context, with the candidates' ids from their part.
    const table = `score_${ctx.taskId}_${ctx.attemptId}`.replace(/\W/g, '_');
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${table} (__ctx INTEGER, __pos BIGINT, score FLOAT, rank_value DOUBLE)`);
    const app = await duck.conn.createAppender(table);
    for (let ci = 0; ci < heaps.contexts; ci++) {
      for (let j = 0; j < heaps.sizes[ci]!; j++) {
        const at = ci * heaps.k + j;
        app.appendInteger(ci);
        app.appendBigInt(BigInt(heaps.positions[at]!));
        app.appendFloat(heaps.scores[at]!);
        app.appendDouble(heaps.values[at]!);
        app.endRow();
      }
    }
    app.closeSync();
    const rel = `${ctx.outDir}/top.parquet`;
    await duck.run(
      `COPY (SELECT w.__ctx, ${t.part}::INTEGER AS __part, w.__pos, p.${ident(c.candidateId)} AS candidate_id, w.score, w.rank_value FROM ${table} w ` +
        `JOIN (${partRowsSql(dataDir, part, t.part)}) p ON p.__pos = w.__pos ORDER BY 1, 6 DESC, 3) TO ${lit(safeJoin(dataDir, rel))} (${parquetWriterOptions()})`,
    );
    await duck.run(`DROP TABLE IF EXISTS ${table}`);
    clock.lap('write');
    clock.report(`score ${ctx.taskId}`);
    return { shuffle: { '0': [await describeFile(duck, dataDir, rel)] }, stats: stats as unknown as Json };
  },

  async reduce(ctx, _partition, inputs) {
    const c = ctx.plan.config as unknown as ScoreConfig;
    const dataDir = ctx.env.dataDir;
    const rel = `${ctx.outDir}/top-${c.k}.parquet`;
    const ids = `SELECT row_number() OVER (ORDER BY ${ident(c.contextId)}) - 1 AS __ctx, ${ident(c.contextId)} AS context_id FROM (${scanSql(dataDir, c.contexts)})`;
    const files = inputs.map((f) => lit(safeJoin(dataDir, f.path))).join(', ');
    const ranked = `SELECT *, row_number() OVER (PARTITION BY __ctx ORDER BY rank_value DESC, __part, __pos) AS rank FROM read_parquet([${files}]) QUALIFY rank <= ${c.k}`;
    await ctx.duck.run(
      `COPY (SELECT (i.context_id::VARCHAR || '/' || t.candidate_id::VARCHAR) AS _id, i.context_id, t.rank::INTEGER AS rank, t.candidate_id, t.score, t.rank_value, ${lit(c.model.ref)} AS model ` +
        `FROM (${ranked}) t JOIN (${ids}) i ON i.__ctx = t.__ctx ORDER BY t.__ctx, t.rank) TO ${lit(safeJoin(dataDir, rel))} (${parquetWriterOptions()})`,
    );
    return { parts: [await describeFile(ctx.duck, dataDir, rel)] };
  },

  async commit(plan, outputs, _head, { duck, dataDir }) {
    const c = plan.config as unknown as ScoreConfig;
    const part = outputs.reduces.get('r00000')!.parts![0] as Part;
    const stats = [...outputs.maps.values()].map((o) => o.stats as unknown as ScoreStats);
    const draft = { format: 1 as const, dataset: plan.dataset, version: 1, created_at: '', schema: [], parts: [part], rows: 0, parents: [], operation: '', config_hash: '', licences: [] };
    const schema = (await duck.describe(`(${scanSql(dataDir, draft)})`)).map((col) => ({ name: col.name, type: col.type, nullable: col.name !== '_id' }));
    return {
      schema,
      parts: [part],
      rows: part.rows,
      parents: [`${c.candidates.dataset}@${c.candidates.version}`, `${c.contexts.dataset}@${c.contexts.version}`],
      operation: 'score',
      config_hash: configHash({ ...c, candidates: `${c.candidates.dataset}@${c.candidates.version}`, contexts: `${c.contexts.dataset}@${c.contexts.version}` }),
      config: { model: c.model.ref, sha256: c.model.sha256, k: c.k, rank_by: c.rankBy, candidate_id: c.candidateId, context_id: c.contextId, batch_size: c.batchSize },
      licences: c.licences,
      extra: {
        model: c.model.ref,
        candidates: stats.reduce((n, s) => n + s.candidates, 0),
        failed_candidates: stats.reduce((n, s) => n + s.failed, 0),
        pairs: stats.reduce((n, s) => n + s.pairs, 0),
        failed_contexts: stats[0]?.failed_contexts ?? [],
      },
    };
  },
};

