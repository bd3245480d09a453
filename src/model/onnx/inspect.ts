// Reading an ONNX file's signature (inputs, outputs, element types, shapes) without a session.
import { readFileSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import type onnxProto from 'onnx-proto';
import { decodeModel, elemTypeOf } from './build.ts';


export interface TensorSig {
  name: string;
  type: string;
  /** a number for a fixed dimension, a string for a symbolic one, null when unknown */
  dims: (number | string | null)[];
}

export interface ModelSig {
  inputs: TensorSig[];
  outputs: TensorSig[];
  opset: number;
}

/** The graph's real inputs (initializers excluded) and outputs. */
export function readSignature(bytes: Uint8Array, where: string): ModelSig {
  let m;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    throw new InputError(`${where} is not an ONNX model: ${(e as Error).message}`, { cause: e, hint: 'export the model with torch.onnx.export, tf2onnx or skl2onnx' });
  }
  const g = m.graph;
  if (!g || !g.output?.length) throw new InputError(`${where} is not an ONNX model: it has no graph outputs`, { hint: 'export the model with torch.onnx.export, tf2onnx or skl2onnx' });
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const sig = (v: onnxProto.onnx.IValueInfoProto): TensorSig => ({
    name: v.name ?? '',
    type: elemTypeOf(v.type?.tensorType?.elemType ?? 0),
    dims: (v.type?.tensorType?.shape?.dim ?? []).map((d: onnxProto.onnx.TensorShapeProto.IDimension) => (d.dimParam ? d.dimParam : d.dimValue != null ? Number(d.dimValue) : null)),
  });
  const opset = Number(m.opsetImport.find((o) => !o.domain)?.version ?? 0);
  return { inputs: (g.input ?? []).filter((v) => !inits.has(v.name)).map(sig), outputs: g.output.map(sig), opset };
}

export function readSignatureFile(path: string): ModelSig {
  return readSignature(readFileSync(path), path);
}
