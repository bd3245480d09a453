// How a model input is made from a candidate and a context: each column the feature spec reads is
// looked up in the candidate row first, then in the context row. The spec is split into a candidate
// half (computed once per candidate by the batch reader, with the same SQL/kernels as inference)
// and a context half (computed once per context with the spec's row path); per batch and context
// the two halves are copied into the model's input tensors, segment by segment.
import { UsageError } from '../core/errors.ts';
import type { Out } from '../model/features/kernels.ts';
import { type FeatureSpec, type InputSpec, featureColumn, featureWidth } from '../model/features/spec.ts';
import { isDense } from '../model/features/sql.ts';
import type { Tensor } from '../model/backends/backend.ts';

export interface Segment {
  side: 'candidate' | 'context';
  /** the half's input of the same name, and where this segment sits in its row */
  srcOffset: number;
  dstOffset: number;
  width: number;
}

export interface Layout {
  name: string;
  dtype: 'float32' | 'int64';
  rowShape: number[];
  rowSize: number;
  /** feature-major [width, rows] (dense inputs, transposed inside the graph), else row-major */
  columns: boolean;
  segments: Segment[];
}

export interface SplitSpec {
  candidate: InputSpec[];
  context: InputSpec[];
  layouts: Layout[];
}

/** Splits a frozen spec by where its columns are; a column in neither is a UsageError. */
export function splitSpec(spec: FeatureSpec, rowSizes: Map<string, number[]>, candidateCols: Set<string>, contextCols: Set<string>): SplitSpec {
  const side = (col: string): Segment['side'] => {
    if (candidateCols.has(col)) return 'candidate';
    if (contextCols.has(col)) return 'context';
    throw new UsageError(`the model reads column ${JSON.stringify(col)}, which neither the candidates nor the contexts have`, { hint: 'feature columns are looked up in the candidate row first, then in the context row' });
  };
  const out: SplitSpec = { candidate: [], context: [], layouts: [] };
  for (const inp of spec.inputs) {
    const rowShape = rowSizes.get(inp.name)!;
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const layout: Layout = { name: inp.name, dtype: 'image' in inp ? 'float32' : inp.dtype, rowShape, rowSize, columns: isDense(inp), segments: [] };
    out.layouts.push(layout);
    if ('image' in inp) {
      const s = side(inp.image.column);
      out[s].push(inp);
      layout.segments.push({ side: s, srcOffset: 0, dstOffset: 0, width: rowSize });
      continue;
    }
    const halves = { candidate: [] as typeof inp.features, context: [] as typeof inp.features };
    const offsets = { candidate: 0, context: 0 };
    let dst = 0;
    for (const f of inp.features) {
      const s = side(featureColumn(f));
      const w = featureWidth(f);
      layout.segments.push({ side: s, srcOffset: offsets[s], dstOffset: dst, width: w });
      halves[s].push(f);
      offsets[s] += w;
      dst += w;
    }
    for (const s of ['candidate', 'context'] as const) if (halves[s].length) out[s].push({ name: inp.name, dtype: inp.dtype, features: halves[s] });
  }
  return out;
}

/** Copies the candidate half of a batch (`n` rows) into the model's input buffer. */
export function copyCandidate(l: Layout, dst: Float32Array | BigInt64Array, n: number, src: Tensor | undefined): void {
  if (!src) return;
  const srcCols = src.layout === 'columns';
  const srcStride = srcCols ? src.dims[1]! : src.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = src.data as Float32Array;
  const d = dst as Float32Array;
  for (const s of l.segments) {
    if (s.side !== 'candidate') continue;
    for (let j = 0; j < s.width; j++) {
      const from = s.srcOffset + j;
      const to = s.dstOffset + j;
      if (srcCols && l.columns) d.set(data.subarray(from * srcStride, from * srcStride + n), to * n);
      else if (srcCols) for (let i = 0; i < n; i++) d[i * l.rowSize + to] = data[from * srcStride + i]!;
      else if (l.columns) for (let i = 0; i < n; i++) d[to * n + i] = data[i * srcStride + from]!;
      else for (let i = 0; i < n; i++) d[i * l.rowSize + to] = data[i * srcStride + from]!;
    }
  }
}

/** Writes one context's half (one row of values per input) into every row of the buffer. */
export function fillContext(l: Layout, dst: Float32Array | BigInt64Array, n: number, ctx: Record<string, Out>): void {
  const row = ctx[l.name];
  if (!row) return;
  const d = dst as Float32Array;
  for (const s of l.segments) {
    if (s.side !== 'context') continue;
    for (let j = 0; j < s.width; j++) {
      const v = (row as Float32Array)[s.srcOffset + j]!;
      const to = s.dstOffset + j;
      if (l.columns) d.fill(v, to * n, (to + 1) * n);
      else for (let i = 0; i < n; i++) d[i * l.rowSize + to] = v;
    }
  }
}
