// The model registry: `models/<name>/<version>/` inside the project folder holds model.onnx and
// model.yaml. Models load only from here, and only when the file's sha256 matches model.yaml.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, IntegrityError, NotFoundError, UsageError } from '../core/errors.ts';
import { loadYaml } from '../core/config.ts';
import { sha256File } from '../core/hash.ts';
import { assertName, safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { compileSpec } from './features/compile.ts';
import { FeatureSpecSchema, isFrozen, type FeatureSpec, type FeatureSpecInput } from './features/spec.ts';
import { freezeSpec } from './freeze.ts';
import { ModelMetaSchema, type ModelMeta } from './model-yaml.ts';
import { checkSignature } from './backends/onnx.ts';
import { readSignature } from './onnx/inspect.ts';

export const MODELS_DIR = 'models';

export interface LoadedModel {
  meta: ModelMeta;
  dir: string;
  /** absolute path of model.onnx (sha256 verified) */
  path: string;
  ref: string;
}

export interface AddModelOptions {
  file: string;
  name: string;
  /** feature spec: a parsed object or a YAML file path */
  features?: FeatureSpecInput | string;
  /** dataset version to freeze statistics and vocabularies from */
  stats?: string;
  labels?: string[];
  trainedOn?: string[];
  metrics?: Record<string, number>;
}

export function modelsRoot(project: Project): string {
  return join(project.root, MODELS_DIR);
}

function versionsOf(root: string, name: string): number[] {
  const dir = safeJoin(root, name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
}

/** Adds a model file as the next version of `name`; checks it against its feature spec first. */
export async function addModel(project: Project, o: AddModelOptions): Promise<LoadedModel> {
  assertName(o.name, 'model');
  const root = modelsRoot(project);
  if (!existsSync(o.file)) throw new UsageError(`no model file at ${o.file}`);
  const bytes = readFileSync(o.file);
  const sig = readSignature(bytes, o.file);
  let spec: FeatureSpec | undefined = typeof o.features === 'string' ? loadYaml(o.features, FeatureSpecSchema) : o.features === undefined ? undefined : parseSpec(o.features);
  if (spec && !isFrozen(spec)) {
    if (!o.stats) throw new ConfigError('the feature spec has statistics or vocabularies to freeze', { hint: 'pass --stats <dataset@version> to freeze them from data' });
    const m = await project.catalog.resolve(parseRef(o.stats));
    spec = await freezeSpec(spec, await project.duck(), project.dataDir, m);
  }
  if (spec) checkSignature(sig, compileSpec(spec, { root: project.root }).inputs, `model ${o.file}`);
  const trained_on = [];
  for (const ref of o.trainedOn ?? []) {
    const m = await project.catalog.resolve(parseRef(ref));
    trained_on.push({ dataset: `${m.dataset}@${m.version}`, licences: m.licences });
  }
  const version = (versionsOf(root, o.name).at(-1) ?? 0) + 1;
  const dir = safeJoin(root, o.name, String(version));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'model.onnx');
  copyFileSync(o.file, path);
  const meta: ModelMeta = {
    format: 1,
    name: o.name,
    version,
    created_at: new Date().toISOString(),
    file: 'model.onnx',
    sha256: await sha256File(path),
    bytes: bytes.length,
    opset: sig.opset,
    inputs: sig.inputs,
    outputs: sig.outputs,
    ...(spec ? { features: spec } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
    trained_on,
    metrics: o.metrics ?? {},
  };
  writeFileSync(join(dir, 'model.yaml'), `# sluice model ${o.name}@${version}: written by \`sluice model add\`\n` + stringify(meta));
  return { meta, dir, path, ref: `${o.name}@${version}` };
}

function parseSpec(input: FeatureSpecInput): FeatureSpec {
  const r = FeatureSpecSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(`feature spec: ${i?.path.join('.') || '(root)'}: ${i?.message}`, { hint: 'see docs/features.md for the spec format' });
  }
  return r.data;
}

/** Every model version in the registry, by name then version. */
export function listModels(project: Project): ModelMeta[] {
  const root = modelsRoot(project);
  if (!existsSync(root)) return [];
  const out: ModelMeta[] = [];
  for (const name of readdirSync(root).sort()) {
    for (const v of versionsOf(root, name)) out.push(loadYaml(safeJoin(root, name, String(v), 'model.yaml'), ModelMetaSchema));
  }
  return out;
}

/**
 * Loads `name` (latest) or `name@version` from the registry and verifies the file's sha256.
 * @example const m = await loadModel(project, 'ctr@2');
 */
export async function loadModel(project: Project, ref: string): Promise<LoadedModel> {
  const at = ref.lastIndexOf('@');
  const name = assertName(at < 0 ? ref : ref.slice(0, at), 'model');
  const sel = at < 0 ? 'latest' : ref.slice(at + 1);
  const root = modelsRoot(project);
  const versions = versionsOf(root, name);
  if (!versions.length) throw new NotFoundError(`no model ${JSON.stringify(name)} in ${root}`, { hint: 'add one with `sluice model add <file.onnx> --name <name>`; list them with `sluice models`' });
  const version = sel === 'latest' ? versions.at(-1)! : /^\d+$/.test(sel) ? Number(sel) : NaN;
  if (!versions.includes(version)) throw new NotFoundError(`model ${name} has no version ${JSON.stringify(sel)}`, { hint: `versions: ${versions.join(', ')}` });
  const dir = safeJoin(root, name, String(version));
  const meta = loadYaml(join(dir, 'model.yaml'), ModelMetaSchema);
  const path = join(dir, meta.file);
  if (!existsSync(path)) throw new IntegrityError(`model ${name}@${version}: ${path} is missing`, { hint: 'restore the file or add the model again' });
  const sha = await sha256File(path);
  if (sha !== meta.sha256) {
    throw new IntegrityError(`model ${name}@${version}: model.onnx has sha256 ${sha.slice(0, 12)}…, model.yaml recorded ${meta.sha256.slice(0, 12)}…`, {
      hint: 'the file was changed after it was added; restore it, or add the new file as a new version',
    });
  }
  return { meta, dir, path, ref: `${name}@${version}` };
}
