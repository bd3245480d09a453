// Planning dedup by key (the shuffle fixture stage) from a dataset version.
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { assertName } from '../core/names.ts';
import { InputError } from '../core/errors.ts';
import { executePlan, runIdFor } from './execute.ts';
import type { Json, PlanProgress, PlanSpec, Runner } from './plan.ts';
import { mapTaskId } from './plan.ts';
import type { DedupConfig } from './stages/dedup-by-key.ts';

export interface DedupOptions {
  input: string;
  output: string;
  key: string[];
  latest: string;
  partitions?: number;
}

export async function planDedup(project: Project, o: DedupOptions): Promise<PlanSpec> {
  assertName(o.output, 'dataset');
  const m = await project.catalog.resolve(parseRef(o.input));
  for (const col of [...o.key, o.latest]) {
    if (!m.schema.some((c) => c.name === col)) {
      throw new InputError(`column ${JSON.stringify(col)} is not in ${m.dataset}@${m.version}`, { hint: `columns: ${m.schema.map((c) => c.name).join(', ')}` });
    }
  }
  const config: DedupConfig = { input: `${m.dataset}@${m.version}`, key: o.key, latest: o.latest };
  const parent = await project.catalog.head(o.output);
  const partitions = o.partitions ?? Math.max(1, Math.min(16, m.parts.length));
  return {
    // The partition count is part of the run: map outputs are split by it, so a rerun with another
    // count must not reuse them.
    runId: runIdFor({ stage: 'dedup-by-key', dataset: o.output, parent, config: { ...config, partitions }, inputs: m.parts.map((p) => p.sha256) }),
    stage: 'dedup-by-key',
    dataset: o.output,
    parent,
    config: { ...config, licences: m.licences as unknown as Json },
    maps: m.parts.map((p, i) => ({ id: mapTaskId(i), input: p as unknown as Json })),
    shuffle: { key: o.key, partitions },
    reduce: true,
  };
}

export async function dedupByKey(project: Project, o: DedupOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<Manifest> {
  return executePlan(project, await planDedup(project, o), runner, onProgress);
}
