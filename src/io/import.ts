// `import`: files of any supported format become a new dataset version, through the import plan.
import { statSync } from 'node:fs';
import { expandGlob } from '../core/glob.ts';
import { assertName } from '../core/names.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { executePlan, runIdFor } from '../engine/execute.ts';
import { mapTaskId, type Json, type PlanProgress, type PlanSpec, type Runner } from '../engine/plan.ts';
import { detectFormat, type Format } from './formats.ts';
import type { ImportConfig, ImportInput } from './import-stage.ts';
import type { Licence } from '../core/manifest.ts';

export interface ImportOptions {
  name: string;
  files: string[];
  format?: Format;
  append?: boolean;
  source?: string;
  licence?: Licence;
  cwd?: string;
}

/** Builds the import plan: one map task per file, in sorted path order. */
export async function planImport(project: Project, o: ImportOptions): Promise<PlanSpec> {
  assertName(o.name, 'dataset');
  const files = o.files.flatMap((f) => expandGlob(f, o.cwd));
  const inputs: ImportInput[] = files.map((path) => {
    if (!o.format) detectFormat(path); // unknown extension fails here, before any work
    const st = statSync(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  });
  const config: ImportConfig = {
    source: o.source ?? o.name,
    append: Boolean(o.append),
    ...(o.format ? { format: o.format } : {}),
    ...(o.licence ? { licence: o.licence } : {}),
  };
  const parent = await project.catalog.head(o.name);
  return {
    runId: runIdFor({ stage: 'import', dataset: o.name, parent, config, inputs }),
    stage: 'import',
    dataset: o.name,
    parent,
    config: config as unknown as Json,
    maps: inputs.map((input, i) => ({ id: mapTaskId(i), input: input as unknown as Json })),
  };
}

export async function importFiles(project: Project, o: ImportOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<Manifest> {
  const plan = await planImport(project, o);
  return executePlan(project, plan, runner, onProgress);
}
