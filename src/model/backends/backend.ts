// The model backend interface: in-process ONNX Runtime and remote model servers (Open Inference
// Protocol v2, TensorFlow Serving REST) all take a batch of named tensors and give named tensors.
//
// Promises: `run` returns one output row per input row, in order, or throws; a backend may split a
// batch into several calls. It does not promise anything about rows it could not score except
// that `RemoteAnswerError` names them, so the caller can dead-letter them and go on.
import { SluiceError } from '../../core/errors.ts';

export interface Tensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  /** full shape, batch first (for `layout: 'columns'`: [width, rows], one feature after another) */
  dims: number[];
  /** 'columns': feature-major [width, rows]; the ONNX backend transposes it inside the graph */
  layout?: 'columns';
}

/** A feature-major [width, rows] tensor as the usual row-major [rows, width] (for remote servers). */
export function toRows(t: Tensor): Tensor {
  if (t.layout !== 'columns') return t;
  const [w, n] = t.dims as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(w * n);
  for (let j = 0; j < w; j++) for (let i = 0; i < n; i++) out[i * w + j] = src[j * n + i]!;
  return { type: t.type, data: out, dims: [n, w] };
}

export type Tensors = Record<string, Tensor>;

export interface Backend {
  readonly name: string;
  run(inputs: Tensors, rows: number): Promise<Tensors>;
  close(): Promise<void>;
}

/** A remote server answered something that is not a valid result for these rows: dead-letter them. */
export class RemoteAnswerError extends SluiceError {}

/** The rows [from, to) of a tensor (a view, no copy). */
export function sliceRows(t: Tensor, from: number, to: number): Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return { type: t.type, data: t.data.subarray(from * per, to * per) as Tensor['data'], dims: [to - from, ...t.dims.slice(1)] };
}
