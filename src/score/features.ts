// How a model input is made from a candidate and a context: each column the feature spec reads is
// looked up in the candidate row first, then in the context row. The spec is split into a candidate
// half (computed once per candidate by the batch reader, with the same SQL/kernels as inference)
// and a context half (computed once per context with the spec's row path). The model's inputs are
// row-major, as the model takes them: the candidate half is written once per batch, and per
// context only the context's positions of every row are overwritten (contextFill lists them).
import { UsageError } from '../core/errors.ts';
import type { Out } from '../model/features/kernels.ts';
import { type FeatureSpec, type InputSpec, featureColumn, featureWidth } from '../model/features/spec.ts';
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
    const layout: Layout = { name: inp.name, dtype: 'image' in inp ? 'float32' : inp.dtype, rowShape, rowSize, segments: [] };
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

/** Copies the candidate half of a batch (`n` rows, feature-major or row-major) into the row-major input buffer. */
export function copyCandidate(l: Layout, dst: Float32Array | BigInt64Array, n: number, src: Tensor | undefined): void {
  if (!src) return;
  const srcCols = src.layout === 'columns';
  const srcStride = srcCols ? src.dims[1]! : src.dims.slice(1).reduce((a, b) => a * b, 1);
  if (srcCols && dst instanceof Float32Array) {
    // Dense features arrive one column vector each: interleave them, several columns per pass.
    const data = src.data as Float32Array;
    const cols: Float32Array[] = [];
    const offsets: number[] = [];
    for (const s of l.segments) {
      if (s.side !== 'candidate') continue;
      for (let j = 0; j < s.width; j++) {
        const from = s.srcOffset + j;
        cols.push(data.subarray(from * srcStride, from * srcStride + n));
        offsets.push(s.dstOffset + j);
      }
    }
    interleave(dst, n, l.rowSize, cols, offsets);
    return;
  }
  const data = src.data;
  const d = dst as Float32Array;
  for (const s of l.segments) {
    if (s.side !== 'candidate') continue;
    for (let j = 0; j < s.width; j++) {
      const from = s.srcOffset + j;
      const to = s.dstOffset + j;
      if (srcCols) for (let i = 0; i < n; i++) d[i * l.rowSize + to] = (data as Float32Array)[from * srcStride + i]!;
      else for (let i = 0; i < n; i++) d[i * l.rowSize + to] = (data as Float32Array)[i * srcStride + from]!;
    }
  }
}

/** A context's half of one input: the row positions it takes and their values, the same for every row. */
export interface ContextFill {
  offsets: number[];
  values: number[] | bigint[];
}

/** One context's values for an input, computed once per context; null when the context adds none to it. */
export function contextFill(l: Layout, ctx: Record<string, Out>): ContextFill | null {
  const row = ctx[l.name] as ArrayLike<number | bigint> | undefined;
  if (!row) return null;
  const offsets: number[] = [];
  const values: (number | bigint)[] = [];
  for (const s of l.segments) {
    if (s.side !== 'context') continue;
    for (let j = 0; j < s.width; j++) {
      offsets.push(s.dstOffset + j);
      values.push(row[s.srcOffset + j]!);
    }
  }
  return offsets.length ? { offsets, values: values as number[] | bigint[] } : null;
}

// The interleaving below takes up to eight columns per pass over the rows, held in locals: the
// plain `for (j) for (row) d[row * rs + offsets[j]] = cols[j][row]` costs about 3× as much.
// (A context's half is written into every row on the model's thread, onnx-thread-worker.js.)

/** `d[i * rs + offsets[j]] = cols[j][i]` for every row i < n and every j. */
function interleave(d: Float32Array, n: number, rs: number, cols: Float32Array[], offsets: number[]): void {
  let j = 0;
  for (; j + 8 <= cols.length; j += 8) {
    const [c0, c1, c2, c3, c4, c5, c6, c7] = cols.slice(j, j + 8) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const [o0, o1, o2, o3, o4, o5, o6, o7] = offsets.slice(j, j + 8) as [number, number, number, number, number, number, number, number];
    for (let i = 0, at = 0; i < n; i++, at += rs) {
      d[at + o0] = c0[i]!, d[at + o1] = c1[i]!, d[at + o2] = c2[i]!, d[at + o3] = c3[i]!;
      d[at + o4] = c4[i]!, d[at + o5] = c5[i]!, d[at + o6] = c6[i]!, d[at + o7] = c7[i]!;
    }
  }
  for (; j + 4 <= cols.length; j += 4) {
    const [c0, c1, c2, c3] = cols.slice(j, j + 4) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const [o0, o1, o2, o3] = offsets.slice(j, j + 4) as [number, number, number, number];
    for (let i = 0, at = 0; i < n; i++, at += rs) d[at + o0] = c0[i]!, d[at + o1] = c1[i]!, d[at + o2] = c2[i]!, d[at + o3] = c3[i]!;
  }
  for (; j < cols.length; j++) {
    const c = cols[j]!;
    for (let i = 0, at = offsets[j]!; i < n; i++, at += rs) d[at] = c[i]!;
  }
}
