// The batch-inference stage: one map task per input part streams the part's features out of
// DuckDB, runs the model at the configured batch size (reading batch k + 1 while batch k runs),
// and writes a part with the kept input columns plus the output columns. Rows whose features fail
// keep their place in the part file but are deleted through a deletion file, and go with their
// reason to a dead-letter file that `runInference` commits as `<output>-deadletter`.
import { describeFile, partSql, scanSql, SYSTEM_COLUMNS } from '../../core/dataset.ts';
import { configHash, sha256File } from '../../core/hash.ts';
import { IntegrityError } from '../../core/errors.ts';
import type { FileEntry, Licence, Part } from '../../core/manifest.ts';
import { safeJoin } from '../../core/names.ts';
import { ident, lit } from '../../engine/duckdb.ts';
import type { Json, Stage, TaskContext } from '../../engine/plan.ts';
import { parquetWriterOptions } from '../../io/parquet.ts';
import type { FeatureSpec } from '../features/spec.ts';
import { denseSql, isDense } from '../features/sql.ts';
import { type Backend, RemoteAnswerError, type Tensors } from '../backends/backend.ts';
import { OnnxBackend } from '../backends/onnx.ts';
import { RemoteBackend, type RemoteSpec } from '../backends/remote.ts';
import { readBatches } from './reader.ts';
import { phaseClock } from '../../engine/profile.ts';
import { type OutputColumn, OutputWriter, outputSelect } from './writer.ts';

export interface InferConfig {
  input: string;
  model: { ref: string; path: string; sha256: string; root: string };
  /** a remote model server instead of in-process ONNX Runtime */
  remote?: RemoteSpec;
  spec: FeatureSpec;
  outputs: OutputColumn[];
  /** input columns to keep beside the outputs */
  keep: 'all' | string[];
  batchSize: number;
  licences: Licence[];
}

export interface InferTaskStats {
  rows: number;
  scored: number;
  failed: number;
  deadletter: FileEntry | null;
}

const verifiedModels = new Set<string>();

/** The model file must still be the one the plan was made with (tasks may run on other machines, later). */
async function verifyModel(m: InferConfig['model']): Promise<void> {
  if (verifiedModels.has(`${m.path}|${m.sha256}`)) return;
  const sha = await sha256File(m.path);
  if (sha !== m.sha256) throw new IntegrityError(`model ${m.ref}: ${m.path} has sha256 ${sha.slice(0, 12)}…, the plan expected ${m.sha256.slice(0, 12)}…`, { hint: 'the model file changed during the run; restore it or rerun with the new version' });
  verifiedModels.add(`${m.path}|${m.sha256}`);
}

async function openBackend(c: InferConfig, threads: number): Promise<Backend> {
  if (c.remote) return new RemoteBackend(c.remote);
  await verifyModel(c.model);
  const columnInputs = c.spec.inputs.filter(isDense).map((i) => i.name);
  return OnnxBackend.open(c.model.path, c.model.sha256, threads, c.outputs.map((o) => o.output), columnInputs);
}

export const inferStage: Stage = {
  name: 'infer',

  async map(ctx: TaskContext, task) {
    const part = task.input as unknown as Part;
    const c = ctx.plan.config as unknown as InferConfig;
    const { dataDir } = ctx.env;
    const relation = `(${partSql(dataDir, part)})`;
    const keepsLineage = Boolean(part.lineage && !part.deletes);
    const cols = (await ctx.duck.describe(relation)).map((x) => x.name);
    const kept = cols.filter((n) => (keepsLineage ? !SYSTEM_COLUMNS.includes(n as never) : SYSTEM_COLUMNS.includes(n as never) || c.keep === 'all' || c.keep.includes(n)));
    const keepList = keepsLineage && c.keep !== 'all' ? kept.filter((n) => c.keep.includes(n)) : kept;

    const clock = phaseClock();
    const backend = await openBackend(c, ctx.env.threads);
    clock.lap('open');
    const table = `infer_${ctx.taskId}_${ctx.attemptId}`.replace(/\W/g, '_');
    const writer = await OutputWriter.open(ctx.duck, table, c.outputs);
    try {
      let inflight: Promise<void> = Promise.resolve();
      for await (const b of readBatches(ctx.duck, c.spec, relation, c.batchSize, c.model.root)) {
        clock.lap('read');
        await inflight;
        clock.lap('wait-model');
        inflight = score(backend, b.inputs, b.rows, b.failed, c.outputs).then((out) => {
          writer.append(out, b.rows, b.failed);
          b.release();
        });
        ctx.progress(writer.rowCount);
      }
      await inflight;
      clock.lap('wait-model');
      writer.flush();
      clock.lap('append');
    } finally {
      writer.close();
      await backend.close();
    }
    const rows = writer.rowCount;
    const fails = writer.failures;

    const outRel = `${ctx.outDir}/part-0.parquet`;
    const select = [...keepList.map((n) => `p.${ident(n)}`), outputSelect(c.outputs, 's')].join(', ');
    const from = keepList.length ? `${relation} p POSITIONAL JOIN ${ident(table)} s` : `${ident(table)} s`;
    await ctx.duck.run(`COPY (SELECT ${select} FROM ${from}) TO ${lit(safeJoin(dataDir, outRel))} (${parquetWriterOptions()})`);
    const entry = await describeFile(ctx.duck, dataDir, outRel);
    clock.lap('write');
    const out: Part = { ...entry, ...(keepsLineage ? { lineage: part.lineage! } : {}) };

    let deadletter: FileEntry | null = null;
    if (fails.length) {
      const ft = `${table}_fail`;
      await ctx.duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(ft)} (pos BIGINT, reason VARCHAR)`);
      const app = await ctx.duck.conn.createAppender(ft);
      for (const f of fails) {
        app.appendBigInt(BigInt(f.pos));
        app.appendVarchar(f.reason);
        app.endRow();
      }
      app.closeSync();
      const delRel = `${ctx.outDir}/deletes-0.parquet`;
      await ctx.duck.run(`COPY (SELECT pos FROM ${ident(ft)} ORDER BY pos) TO ${lit(safeJoin(dataDir, delRel))} (${parquetWriterOptions()})`);
      out.deletes = await describeFile(ctx.duck, dataDir, delRel);
      const dlRel = `${ctx.outDir}/deadletter-0.parquet`;
      await ctx.duck.run(
        `COPY (SELECT p.* EXCLUDE (__pos), coalesce(nullif(f.reason, ''), ${denseReason(c.spec)}, 'rejected by the model backend') AS _reason FROM (${relation} POSITIONAL JOIN (SELECT range AS __pos FROM range(${rows}))) p ` +
          `JOIN ${ident(ft)} f ON p.__pos = f.pos ORDER BY f.pos) TO ${lit(safeJoin(dataDir, dlRel))} (${parquetWriterOptions()})`,
      );
      deadletter = await describeFile(ctx.duck, dataDir, dlRel);
      await ctx.duck.run(`DROP TABLE IF EXISTS ${ident(ft)}`);
    }
    await ctx.duck.run(`DROP TABLE IF EXISTS ${ident(table)}`);
    clock.lap('deadletter');
    clock.report(`infer ${ctx.taskId} (${rows} rows)`);
    const stats: InferTaskStats = { rows, scored: rows - fails.length, failed: fails.length, deadletter };
    return { parts: [out as Part & { lineage?: Json }], stats: stats as unknown as Json };
  },

  async commit(plan, outputs, head, { duck, dataDir }) {
    const c = plan.config as unknown as InferConfig;
    const parts = plan.maps.map((m) => outputs.maps.get(m.id)!.parts![0] as Part);
    const stats = plan.maps.map((m) => outputs.maps.get(m.id)!.stats as unknown as InferTaskStats);
    const draftManifest = { format: 1 as const, dataset: plan.dataset, version: 1, created_at: '', schema: [], parts, rows: 0, parents: [], operation: '', config_hash: '', licences: [] };
    const schema = (await duck.describe(`(${scanSql(dataDir, draftManifest)})`)).map((col) => ({ name: col.name, type: col.type, nullable: !SYSTEM_COLUMNS.includes(col.name as never) }));
    const failed = stats.reduce((n, s) => n + s.failed, 0);
    return {
      schema,
      parts,
      rows: parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
      parents: [c.input, ...(head ? [`${head.dataset}@${head.version}`] : [])],
      operation: 'infer',
      config_hash: configHash({ ...c, model: { ref: c.model.ref, sha256: c.model.sha256 } }),
      config: { input: c.input, model: c.model.ref, sha256: c.model.sha256, batchSize: c.batchSize, keep: c.keep, outputs: c.outputs as unknown as Json, ...(c.remote ? { remote: c.remote.url } : {}) } as Json,
      licences: c.licences,
      extra: { model: c.model.ref, scored: stats.reduce((n, s) => n + s.scored, 0), deadletter_rows: failed },
    };
  },
};

/** The exact reason of a dense input's failure, in SQL over the input columns (run on failed rows only). */
function denseReason(spec: FeatureSpec): string {
  const rs = spec.inputs.filter(isDense).map((i) => denseSql(i).reason);
  return rs.length === 0 ? 'NULL' : rs.length === 1 ? rs[0]! : `coalesce(${rs.join(', ')})`;
}

/** Runs the backend on one batch; an unusable remote answer dead-letters the batch instead of failing the job. */
async function score(backend: Backend, inputs: Tensors, rows: number, failed: Map<number, string>, outputs: OutputColumn[]): Promise<Tensors> {
  try {
    return await backend.run(inputs, rows);
  } catch (e) {
    if (!(e instanceof RemoteAnswerError)) throw e;
    for (let i = 0; i < rows; i++) if (!failed.has(i)) failed.set(i, e.message);
    const out: Tensors = {};
    for (const o of outputs) out[o.output] = { type: o.type, data: o.type === 'int64' ? new BigInt64Array(rows * o.width) : new Float32Array(rows * o.width), dims: [rows, o.width] };
    return out;
  }
}
