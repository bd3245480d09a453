// Streams a part from DuckDB and assembles model batches: dense inputs (numbers and float lists)
// arrive as one FLOAT[k] column computed in SQL and are copied chunk by chunk with one `set`;
// other inputs (categories, text, images) go through the compiled kernels. Each batch owns its
// buffers, so the caller can run batch k while this reads batch k + 1.
import type { DuckDBArrayVector, DuckDBDataChunk, DuckDBVector } from '@duckdb/node-api';
import type { DuckSession } from '../../engine/duckdb.ts';
import { compileSpec, type CompiledSpec, type Columns, type TensorPlan } from '../features/compile.ts';
import { type FeatureSpec, featureColumn } from '../features/spec.ts';
import { columnSql, denseSql, isDense } from '../features/sql.ts';
import type { Tensors } from '../backends/backend.ts';
import { ident } from '../../engine/duckdb.ts';

export interface ModelBatch {
  rows: number;
  inputs: Tensors;
  /** row index within the batch → reason */
  failed: Map<number, string>;
}

interface Plan {
  sql: string;
  dense: { plan: TensorPlan; col: number }[];
  reasonCol: number | null;
  generic: { compiled: CompiledSpec; cols: { name: string; col: number }[] } | null;
  plans: TensorPlan[];
}

/** The SELECT that feeds a spec from a relation, and where each input's data sits in a chunk. */
export function readerPlan(spec: FeatureSpec, relation: string, root?: string): Plan {
  const select: string[] = [];
  const reasons: string[] = [];
  const dense: Plan['dense'] = [];
  const plans = compileSpec(spec, root === undefined ? {} : { root }).inputs;
  const genericInputs = spec.inputs.filter((i) => !isDense(i));
  for (const inp of spec.inputs) {
    if (!isDense(inp)) continue;
    const d = denseSql(inp);
    dense.push({ plan: plans.find((p) => p.name === inp.name)!, col: select.length });
    select.push(`${d.value} AS ${ident(`__in_${inp.name}`)}`);
    if (d.reason !== 'NULL::VARCHAR') reasons.push(d.reason);
  }
  let reasonCol: number | null = null;
  if (reasons.length) {
    reasonCol = select.length;
    select.push(`${reasons.length === 1 ? reasons[0] : `coalesce(${reasons.join(', ')})`} AS __reason`);
  }
  let generic: Plan['generic'] = null;
  if (genericInputs.length) {
    const compiled = compileSpec({ inputs: genericInputs }, root === undefined ? {} : { root });
    const seen = new Map<string, string>();
    for (const inp of genericInputs) {
      if ('image' in inp) seen.set(inp.image.column, ident(inp.image.column));
      else for (const f of inp.features) seen.set(featureColumn(f), columnSql(f));
    }
    const cols: { name: string; col: number }[] = [];
    for (const [name, expr] of seen) {
      cols.push({ name, col: select.length });
      select.push(`${expr} AS ${ident(`__col_${name}`)}`);
    }
    generic = { compiled, cols };
  }
  return { sql: `SELECT ${select.join(', ')} FROM ${relation}`, dense, reasonCol, generic, plans };
}

/**
 * Batches of `batchSize` rows (the last may be shorter) from a relation.
 * @example for await (const b of readBatches(duck, spec, '(SELECT * FROM t)', 8192)) await backend.run(b.inputs, b.rows);
 */
export async function* readBatches(duck: DuckSession, spec: FeatureSpec, relation: string, batchSize: number, root?: string): AsyncGenerator<ModelBatch> {
  const plan = readerPlan(spec, relation, root);
  const result = await duck.conn.stream(plan.sql);
  let batch = newBatch(plan.plans, batchSize);
  let pending: DuckDBDataChunk | null = null;
  let pendingFrom = 0;
  for (;;) {
    const chunk: DuckDBDataChunk | null = pending ?? (await result.fetchChunk());
    if (!chunk || chunk.rowCount === 0) break;
    const from = pending ? pendingFrom : 0;
    const take = Math.min(chunk.rowCount - from, batchSize - batch.rows);
    await fill(plan, batch, chunk, from, take);
    batch.rows += take;
    if (from + take < chunk.rowCount) {
      pending = chunk;
      pendingFrom = from + take;
    } else pending = null;
    if (batch.rows === batchSize) {
      yield batch;
      batch = newBatch(plan.plans, batchSize);
    }
  }
  if (batch.rows > 0) yield trim(batch, plan.plans);
}

function newBatch(plans: TensorPlan[], n: number): ModelBatch {
  const inputs: Tensors = {};
  for (const p of plans) {
    inputs[p.name] = { type: p.dtype, data: p.dtype === 'int64' ? new BigInt64Array(n * p.rowSize) : new Float32Array(n * p.rowSize), dims: [n, ...p.rowShape] };
  }
  return { rows: 0, inputs, failed: new Map() };
}

function trim(b: ModelBatch, plans: TensorPlan[]): ModelBatch {
  for (const p of plans) {
    const t = b.inputs[p.name]!;
    t.data = t.data.subarray(0, b.rows * p.rowSize) as typeof t.data;
    t.dims = [b.rows, ...p.rowShape];
  }
  return b;
}

async function fill(plan: Plan, b: ModelBatch, chunk: DuckDBDataChunk, from: number, n: number): Promise<void> {
  for (const d of plan.dense) {
    const vec = chunk.getColumnVector(d.col) as DuckDBArrayVector;
    // The ARRAY's child vector is one contiguous float buffer for the whole chunk.
    const items = (vec as unknown as { childData: { items: Float32Array } }).childData.items;
    const k = d.plan.rowSize;
    (b.inputs[d.plan.name]!.data as Float32Array).set(items.subarray(from * k, (from + n) * k), b.rows * k);
  }
  if (plan.reasonCol !== null) {
    const vec = chunk.getColumnVector(plan.reasonCol);
    for (let i = 0; i < n; i++) {
      const r = vec.getItem(from + i);
      if (r !== null) b.failed.set(b.rows + i, String(r));
    }
  }
  if (plan.generic) {
    const cols: Columns = {};
    for (const c of plan.generic.cols) cols[c.name] = values(chunk.getColumnVector(c.col), from, n);
    const res = await plan.generic.compiled.batch(cols, n);
    for (const p of plan.generic.compiled.inputs) {
      const src = res.tensors[p.name]!;
      (b.inputs[p.name]!.data as Float32Array).set(src as Float32Array, b.rows * p.rowSize);
    }
    for (const [i, reason] of res.failed) if (!b.failed.has(b.rows + i)) b.failed.set(b.rows + i, reason);
  }
}

function values(vec: DuckDBVector, from: number, n: number): ArrayLike<unknown> {
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const v = vec.getItem(from + i);
    out[i] = v !== null && typeof v === 'object' && 'items' in v ? (v as { items: unknown[] }).items : v;
  }
  return out;
}
