// Planning batch inference (`sluice infer`): checks everything that can be checked before the run
// (model file hash, signature against the feature spec, columns, output names), then runs the
// plan and commits the dead-letter rows as `<output>-deadletter`.
import { ConfigError, InputError, UsageError } from '../../core/errors.ts';
import type { FileEntry, Manifest, Part } from '../../core/manifest.ts';
import { assertName } from '../../core/names.ts';
import type { Project } from '../../core/project.ts';
import { parseRef } from '../../core/ref.ts';
import { executePlan, runIdFor } from '../../engine/execute.ts';
import { type Json, mapTaskId, type PlanProgress, type PlanSpec, type Runner } from '../../engine/plan.ts';
import { LocalRunner } from '../../engine/runners/local.ts';
import { compileSpec } from '../features/compile.ts';
import { specColumns } from '../features/spec.ts';
import { checkSignature } from '../backends/onnx.ts';
import type { RemoteSpec } from '../backends/remote.ts';
import { loadModel } from '../registry.ts';
import type { InferConfig, InferTaskStats } from './stage.ts';
import type { OutputColumn } from './writer.ts';

export interface InferOptions {
  model: string;
  data: string;
  /** output dataset (default `<data>-<model>`) */
  output?: string;
  batchSize?: number;
  /** input columns to keep beside the outputs (default all) */
  keep?: 'all' | string[];
  /** model output → column name */
  columns?: Record<string, string>;
  remote?: Omit<RemoteSpec, 'outputs' | 'model'> & { model?: string };
}

export interface InferResult {
  manifest: Manifest;
  deadletter: Manifest | null;
}

export async function planInfer(project: Project, o: InferOptions): Promise<PlanSpec> {
  const model = await loadModel(project, o.model);
  const spec = model.meta.features;
  if (!spec) throw new ConfigError(`model ${model.ref} has no feature spec`, { hint: 'add it again with --features spec.yaml' });
  const compiled = compileSpec(spec, { root: project.root });
  checkSignature({ inputs: model.meta.inputs, outputs: model.meta.outputs, opset: model.meta.opset }, compiled.inputs, `model ${model.ref}`);
  const input = await project.catalog.resolve(parseRef(o.data));
  const missing = specColumns(spec).filter((c) => !input.schema.some((s) => s.name === c));
  if (missing.length) {
    throw new InputError(`${input.dataset}@${input.version} has no column ${missing.map((c) => JSON.stringify(c)).join(', ')}, which model ${model.ref} reads`, {
      hint: `its columns: ${input.schema.map((c) => c.name).join(', ')}`,
    });
  }
  const outputs: OutputColumn[] = model.meta.outputs.map((out) => {
    const dims = out.dims.slice(1);
    const width = dims.reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : NaN), 1);
    if (!Number.isInteger(width)) throw new ConfigError(`model ${model.ref}: output ${out.name} has shape [${out.dims.join(', ')}]; batch inference needs fixed sizes after the batch dimension`);
    if (out.type !== 'float32' && out.type !== 'int64') throw new ConfigError(`model ${model.ref}: output ${out.name} is ${out.type}; sluice writes float32 and int64 outputs`);
    const column = o.columns?.[out.name] ?? out.name;
    assertName(column, 'output column');
    return { output: out.name, column, type: out.type, width };
  });
  const keep = o.keep ?? 'all';
  if (keep !== 'all') for (const k of keep) if (!input.schema.some((c) => c.name === k)) throw new UsageError(`--keep names ${JSON.stringify(k)}, which ${input.dataset}@${input.version} does not have`);
  const keptNames = keep === 'all' ? input.schema.map((c) => c.name) : ['_id', '_source', ...keep];
  const clash = outputs.find((x) => keptNames.includes(x.column));
  if (clash) throw new UsageError(`output column ${clash.column} would replace the input column of that name`, { hint: `rename it with --column ${clash.output}=<name>, or leave the input column out with --keep` });
  const batchSize = o.batchSize ?? 8192;
  if (!(batchSize >= 1 && batchSize <= 1 << 20)) throw new UsageError(`--batch-size must be 1…1048576, got ${batchSize}`);
  const dataset = o.output ?? `${input.dataset}-${model.meta.name}`;
  assertName(dataset, 'dataset');
  const config: InferConfig = {
    input: `${input.dataset}@${input.version}`,
    model: { ref: model.ref, path: model.path, sha256: model.meta.sha256, root: project.root },
    ...(o.remote ? { remote: { ...o.remote, model: o.remote.model ?? model.meta.name, outputs: outputs.map((x) => ({ name: x.output, width: x.width })) } } : {}),
    spec,
    outputs,
    keep,
    batchSize,
    licences: input.licences,
  };
  const parent = await project.catalog.head(dataset);
  return {
    runId: runIdFor({ stage: 'infer', dataset, parent, config: { ...config, model: { ref: model.ref, sha256: model.meta.sha256 } }, inputs: input.parts.map((p) => p.sha256 + (p.deletes?.sha256 ?? '')) }),
    stage: 'infer',
    dataset,
    parent,
    config: config as unknown as Json,
    maps: input.parts.map((p, i) => ({ id: mapTaskId(i), input: p as unknown as Json })),
    maxAttempts: 2,
  };
}

/**
 * Scores a dataset version with a registered model into a new version, and commits failed rows
 * as `<output>-deadletter` (a rerun after a crash resumes by part and commits nothing twice).
 * @example await runInference(project, { model: 'ctr@1', data: 'ads@3' }, runner)
 */
export async function runInference(project: Project, o: InferOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<InferResult> {
  const plan = await planInfer(project, o);
  const manifest = await executePlan(project, plan, runner, onProgress);
  const runs = await project.catalog.taskResults<{ stats?: InferTaskStats }>(manifest.run_id ?? plan.runId);
  const files: FileEntry[] = [];
  for (const m of plan.maps) {
    const dl = runs.get(m.id)?.output.stats?.deadletter;
    if (dl) files.push(dl);
  }
  if (!files.length) return { manifest, deadletter: null };
  const dlName = `${plan.dataset}-deadletter`;
  const dlParent = await project.catalog.head(dlName);
  const dlConfig = { of: `${manifest.dataset}@${manifest.version}`, files: files as unknown as Json };
  const dlPlan: PlanSpec = {
    runId: runIdFor({ stage: 'infer-deadletter', dataset: dlName, parent: dlParent, config: dlConfig, inputs: [] }),
    stage: 'infer-deadletter',
    dataset: dlName,
    parent: dlParent,
    config: dlConfig,
    maps: [],
  };
  // No tasks to run: the commit only lists the files the inference tasks wrote.
  const deadletter = await executePlan(project, dlPlan, new LocalRunner(await project.duck(), project.catalog));
  return { manifest, deadletter };
}

export type { Part };
