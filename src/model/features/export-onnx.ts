// Exports the numeric and vocabulary parts of a feature spec as an ONNX preprocessing graph and
// merges it in front of a model, so a trainer or server outside TypeScript gets the same tensors.
//
// Covered: float32 inputs of numbers (fill, clip, standardize) and vocabulary categories (id or
// one_hot), int64 inputs of vocabulary ids. Raw inputs are `raw_<column>`, [N, 1]: float64 for
// numbers (NULL passed as NaN), string for categories. The arithmetic is the kernels' (float64,
// one rounding to float32), so the tensors are bit-identical. Not covered (the input is left for
// the caller to feed, from the TS transform or the golden vectors): hashing, text, lists, images,
// and dead-lettering (a missing number without fill stays NaN).
import { ConfigError } from '../../core/errors.ts';
import { decodeModel, node, onnx, tensor, valueInfo } from '../onnx/build.ts';
import { type Feature, type FeatureSpec, featureColumn, featureWidth, isCategory, isNumber } from './spec.ts';

type Graph = InstanceType<typeof onnx.GraphProto>;

const exportable = (f: Feature) => isNumber(f) || (isCategory(f) && Array.isArray(f.vocab));

/** Names of the spec's inputs the preprocessing graph computes. */
export function exportedInputs(spec: FeatureSpec): string[] {
  return spec.inputs.filter((i) => !('image' in i) && i.features.every(exportable)).map((i) => i.name);
}

/**
 * The model with the spec's numeric and vocabulary inputs computed in the graph from raw columns.
 * @example writeFileSync('ctr-with-features.onnx', withPreprocessing(spec, readFileSync('model.onnx')))
 */
export function withPreprocessing(spec: FeatureSpec, modelBytes: Uint8Array): Uint8Array {
  const m = decodeModel(modelBytes);
  const g = m.graph as Graph;
  const names = exportedInputs(spec);
  if (!names.length) throw new ConfigError('the feature spec has no input made only of numbers and vocabularies to export');
  const raw = new Map<string, 'float64' | 'string'>();
  const nodes: ReturnType<typeof node>[] = [];
  const inits: ReturnType<typeof tensor>[] = [];
  const c = (name: string, type: 'float64' | 'int64', values: number[], dims: number[] = []) => {
    inits.push(tensor(name, type, dims, values));
    return name;
  };
  for (const name of names) {
    const inp = spec.inputs.find((i) => i.name === name)! as Extract<FeatureSpec['inputs'][number], { features: unknown }>;
    const idx = g.input.findIndex((v) => v.name === name);
    if (idx < 0) throw new ConfigError(`the model has no input ${name} for the exported features`);
    g.input.splice(idx, 1);
    const pieces: string[] = [];
    inp.features.forEach((f, j) => {
      const p = `pre_${name}_${j}`;
      const col = featureColumn(f);
      const rawName = `raw_${col}`;
      if (isNumber(f)) {
        raw.set(rawName, 'float64');
        let x = rawName;
        if (f.fill !== undefined) {
          nodes.push(node('IsNaN', [x], [`${p}_nan`]), node('IsInf', [x], [`${p}_inf`]), node('Or', [`${p}_nan`, `${p}_inf`], [`${p}_missing`]));
          nodes.push(node('Where', [`${p}_missing`, c(`${p}_fill`, 'float64', [f.fill]), x], [`${p}_filled`]));
          x = `${p}_filled`;
        }
        if (f.clip) {
          nodes.push(node('Max', [x, c(`${p}_lo`, 'float64', [f.clip[0]])], [`${p}_max`]), node('Min', [`${p}_max`, c(`${p}_hi`, 'float64', [f.clip[1]])], [`${p}_clipped`]));
          x = `${p}_clipped`;
        }
        if (f.standardize && f.standardize !== true) {
          nodes.push(node('Sub', [x, c(`${p}_mean`, 'float64', [f.standardize.mean])], [`${p}_centred`]), node('Div', [`${p}_centred`, c(`${p}_std`, 'float64', [f.standardize.std])], [`${p}_scaled`]));
          x = `${p}_scaled`;
        }
        nodes.push(node('Cast', [x], [`${p}_out`], { to: onnx.TensorProto.DataType.FLOAT }));
        pieces.push(`${p}_out`);
      } else if (isCategory(f) && Array.isArray(f.vocab)) {
        raw.set(rawName, 'string');
        nodes.push(node('LabelEncoder', [rawName], [`${p}_id`], { keys_strings: f.vocab, values_int64s: { ints: f.vocab.map((_, i) => i + 1) }, default_int64: 0 }, 'ai.onnx.ml'));
        if (f.encode === 'id') {
          if (inp.dtype === 'int64') pieces.push(`${p}_id`);
          else {
            nodes.push(node('Cast', [`${p}_id`], [`${p}_out`], { to: onnx.TensorProto.DataType.FLOAT }));
            pieces.push(`${p}_out`);
          }
        } else {
          const depth = featureWidth(f);
          inits.push(tensor(`${p}_depth`, 'int64', [], [depth]), tensor(`${p}_values`, 'float32', [2], [0, 1]), tensor(`${p}_shape`, 'int64', [2], [-1, depth]));
          nodes.push(node('OneHot', [`${p}_id`, `${p}_depth`, `${p}_values`], [`${p}_hot`], { axis: -1 }), node('Reshape', [`${p}_hot`, `${p}_shape`], [`${p}_out`]));
          pieces.push(`${p}_out`);
        }
      }
    });
    nodes.push(pieces.length === 1 ? node('Identity', pieces, [name]) : node('Concat', pieces, [name], { axis: 1 }));
  }
  for (const [rawName, type] of raw) if (!g.input.some((v) => v.name === rawName)) g.input.push(onnx.ValueInfoProto.create(valueInfo(rawName, type, [null, 1])));
  g.node.unshift(...nodes.map((n) => onnx.NodeProto.create(n)));
  g.initializer.push(...inits.map((t) => onnx.TensorProto.create(t)));
  if (!m.opsetImport.some((o) => o.domain === 'ai.onnx.ml')) m.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'ai.onnx.ml', version: 2 }));
  const opset = m.opsetImport.find((o) => !o.domain);
  if (opset && Number(opset.version) < 13) throw new ConfigError(`the model uses opset ${opset.version}; the preprocessing graph needs opset 13 or later`);
  return onnx.ModelProto.encode(m).finish();
}
