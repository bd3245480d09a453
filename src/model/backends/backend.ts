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
  /** full shape, batch first */
  dims: number[];
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
