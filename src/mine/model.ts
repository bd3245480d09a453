// The model check mining and bulk scoring share: a registered model with a feature spec that
// matches its signature and one float32 output of width 1 (the positive-class probability).
import { ConfigError } from '../core/errors.ts';
import type { Project } from '../core/project.ts';
import { checkSignature } from '../model/backends/onnx.ts';
import { compileSpec } from '../model/features/compile.ts';
import type { FeatureSpec } from '../model/features/spec.ts';
import { type LoadedModel, loadModel } from '../model/registry.ts';

export interface ScoringModel {
  model: LoadedModel;
  spec: FeatureSpec;
  /** the model output read as the score */
  output: string;
}

/**
 * Loads `m@v` and checks it can give one score per row.
 * @example const { model, spec, output } = await scoringModel(project, 'ctr@1');
 */
export async function scoringModel(project: Project, ref: string, what: string): Promise<ScoringModel> {
  const model = await loadModel(project, ref);
  const spec = model.meta.features;
  if (!spec) throw new ConfigError(`model ${model.ref} has no feature spec, so ${what} cannot build its inputs`, { hint: 'add it again with --features spec.yaml' });
  checkSignature({ inputs: model.meta.inputs, outputs: model.meta.outputs, opset: model.meta.opset }, compileSpec(spec, { root: project.root }).inputs, `model ${model.ref}`);
  const out = model.meta.outputs[0];
  const width = out?.dims.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : NaN), 1);
  if (!out || out.type !== 'float32' || width !== 1) {
    throw new ConfigError(`model ${model.ref}: ${what} reads one float32 score per row, but its first output is ${out ? `${out.name} ${out.type} [${out.dims.join(', ')}]` : 'missing'}`, {
      hint: 'export the model with a [N, 1] probability output first',
    });
  }
  return { model, spec, output: out.name };
}
