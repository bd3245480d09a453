// Building ONNX models with onnx-proto (real protobuf): tensors, nodes, graphs, models, and the
// small models sluice writes itself (MLPs for tests and benchmarks, preprocessing graphs).
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export const DT = onnx.TensorProto.DataType;
export type ElemType = 'float32' | 'float64' | 'int64' | 'string' | 'bool';

const ELEM: Record<ElemType, number> = { float32: DT.FLOAT, float64: DT.DOUBLE, int64: DT.INT64, string: DT.STRING, bool: DT.BOOL };
export const elemTypeOf = (code: number): ElemType | `type ${number}` =>
  (Object.entries(ELEM).find(([, v]) => v === code)?.[0] as ElemType | undefined) ?? `type ${code}`;

/** A constant tensor (initializer or attribute value). */
export function tensor(name: string, type: ElemType, dims: number[], values: ArrayLike<number> | string[] | bigint[]): onnxProto.onnx.ITensorProto {
  const t: onnxProto.onnx.ITensorProto = { name, dataType: ELEM[type], dims };
  if (type === 'float32') t.floatData = Array.from(values as ArrayLike<number>);
  else if (type === 'float64') t.doubleData = Array.from(values as ArrayLike<number>);
  else if (type === 'int64') t.int64Data = Array.from(values as ArrayLike<number | bigint>, (v) => Number(v));
  else if (type === 'bool') t.int32Data = Array.from(values as ArrayLike<number>);
  else t.stringData = (values as string[]).map((s) => new TextEncoder().encode(s));
  return t;
}

type AttrValue = number | string | number[] | string[] | onnxProto.onnx.ITensorProto | { ints: number[] } | { floats: number[] };

/** A node; integer-valued numbers become INT attributes unless wrapped as `{ floats }`. */
export function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): onnxProto.onnx.INodeProto {
  const A = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([name, v]): onnxProto.onnx.IAttributeProto => {
    if (typeof v === 'number') return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
    if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x === 'string')) return { name, type: A.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
      return { name, type: A.INTS, ints: v as number[] };
    }
    if ('ints' in v) return { name, type: A.INTS, ints: v.ints };
    if ('floats' in v) return { name, type: A.FLOATS, floats: v.floats };
    return { name, type: A.TENSOR, t: v };
  });
  return { opType: op, input: inputs, output: outputs, attribute, name: `${op}_${outputs[0]}`, domain };
}

/** A graph input or output; `null` in dims is a symbolic batch dimension `N`. */
export function valueInfo(name: string, type: ElemType, dims: (number | null)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (d === null ? { dimParam: 'N' } : { dimValue: d })) } } },
  };
}

export function model(
  graph: onnxProto.onnx.IGraphProto,
  opset = 17,
  extraDomains: { domain: string; version: number }[] = [],
): onnxProto.onnx.IModelProto {
  return {
    irVersion: 8,
    producerName: 'sluice',
    opsetImport: [{ domain: '', version: opset }, ...extraDomains],
    graph,
  };
}

export function encodeModel(m: onnxProto.onnx.IModelProto): Buffer {
  return Buffer.from(onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish());
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export interface MlpWeights {
  /** [in][hidden], row-major */
  w1: Float32Array;
  b1: Float32Array;
  /** [hidden][out] */
  w2: Float32Array;
  b2: Float32Array;
  sizes: [number, number, number];
}

/**
 * An MLP `in → hidden (ReLU) → out (sigmoid, or none)` as an ONNX model with input `x` [N, in] and output
 * `y` [N, out].
 * @example encodeModel(mlpModel(mlpWeights([32, 64, 1], 7)))
 */
export function mlpModel(w: MlpWeights, names = { input: 'x', output: 'y' }, activation: 'sigmoid' | 'none' = 'sigmoid'): onnxProto.onnx.IModelProto {
  const [i, h, o] = w.sizes;
  return model({
    name: 'mlp',
    node: [
      node('MatMul', [names.input, 'w1'], ['h0']),
      node('Add', ['h0', 'b1'], ['h1']),
      node('Relu', ['h1'], ['h2']),
      node('MatMul', ['h2', 'w2'], ['z0']),
      ...(activation === 'sigmoid' ? [node('Add', ['z0', 'b2'], ['z1']), node('Sigmoid', ['z1'], [names.output])] : [node('Add', ['z0', 'b2'], [names.output])]),
    ],
    initializer: [tensor('w1', 'float32', [i, h], w.w1), tensor('b1', 'float32', [h], w.b1), tensor('w2', 'float32', [h, o], w.w2), tensor('b2', 'float32', [o], w.b2)],
    input: [valueInfo(names.input, 'float32', [null, i])],
    output: [valueInfo(names.output, 'float32', [null, o])],
  });
}

/** Fixed pseudo-random MLP weights from a seed (a small LCG), so tests and benches are reproducible. */
export function mlpWeights(sizes: [number, number, number], seed: number): MlpWeights {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32 - 0.5) * 0.5);
  };
  const fill = (n: number) => Float32Array.from({ length: n }, next);
  const [i, h, o] = sizes;
  return { w1: fill(i * h), b1: fill(h), w2: fill(h * o), b2: fill(o), sizes };
}
