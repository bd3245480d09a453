// `curate`: plans an ingest run from a pipeline (new files only, when the mapping is unchanged)
// and executes it on a runner.
import { basename, relative, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { expandGlob } from '../core/glob.ts';
import { assertName } from '../core/names.ts';
import { sha256File, configHash } from '../core/hash.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { warnExpired } from '../core/warn.ts';
import { executePlan, runIdFor } from '../engine/execute.ts';
import { mapTaskId, type Json, type PlanProgress, type PlanSpec, type Runner } from '../engine/plan.ts';
import { detectFormat } from '../io/formats.ts';
import type { IngestConfig, IngestInput, IngestStats } from './ingest-stage.ts';
import type { Pipeline } from './pipeline.ts';
import { groupingOf } from './dedupe.ts';
import { SPLIT_MIN_BYTES, warmScanWorker } from './scan-split.ts';
import { routeReviewItems } from './review-items.ts';
import { checkRunner, resolvePredicates } from './predicate.ts';
import type { CurateSummary } from './summary.ts';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface CurateResult {
  manifest: Manifest | null;
  /** files skipped because an earlier run already ingested the same bytes */
  skipped: { source: string; file: string }[];
  stats: IngestStats[];
  /** outcomes per source and fires per rule (empty when nothing was new) */
  summary: CurateSummary;
}

export async function planCurate(project: Project, given: Pipeline, baseDir: string): Promise<{ plan: PlanSpec | null; skipped: CurateResult['skipped'] }> {
  assertName(given.target, 'dataset');
  const pipeline = resolvePredicates(given, baseDir);
  warnExpired(
    pipeline.sources.filter((s) => s.licence).map((s) => ({ source: s.name, licence: s.licence!.licence, expires: s.licence!.expires })),
    `pipeline ${pipeline.target}`,
  );
  const parent = await project.catalog.head(pipeline.target);
  const head = parent === null ? null : await project.catalog.manifest(pipeline.target, parent);
  const hash = configHash(pipeline);
  const reuse = head !== null && head.config_hash === hash;
  const seen = new Set(reuse ? ((head!.extra?.ingested as IngestStats[] | undefined) ?? []).map((s) => `${s.source}|${s.sha256}`) : []);
  const inputs: IngestInput[] = [];
  const skipped: CurateResult['skipped'] = [];
  for (const [i, s] of pipeline.sources.entries()) {
    if (s.query) {
      inputs.push({ source: i, file: `query:${s.name}`, format: 'csv', sha256: configHash({ query: s.query, at: new Date().toISOString() }).padEnd(64, '0') });
      continue;
    }
    const patterns = Array.isArray(s.files) ? s.files : [s.files!];
    const files = [...new Set(patterns.flatMap((p) => expandGlob(p, baseDir)))].sort();
    for (const path of files) {
      const format = s.format ?? detectFormat(path).format;
      const size = statSync(path).size;
      // a large text file is scanned on two threads: start the second now, while the files are hashed
      if ((format === 'csv' || format === 'tsv' || format === 'jsonl') && size >= SPLIT_MIN_BYTES) warmScanWorker();
      const sha256 = size === 0 ? EMPTY_SHA256 : await sha256File(path);
      const file = relative(baseDir, resolve(path)) || basename(path);
      if (seen.has(`${s.name}|${sha256}`)) skipped.push({ source: s.name, file });
      else inputs.push({ source: i, path, file, format, sha256 });
    }
  }
  if (inputs.length === 0) return { plan: null, skipped };
  const config: IngestConfig = { pipeline, reuse };
  const stage = 'curate';
  return {
    plan: {
      ...(groupingOf(pipeline) ? { shuffle: { key: ['__dkey'], partitions: groupingOf(pipeline)!.partitions }, reduce: true } : {}),
      runId: runIdFor({ stage, dataset: pipeline.target, parent, config, inputs }),
      stage,
      dataset: pipeline.target,
      parent,
      config: config as unknown as Json,
      maps: inputs.map((input, i) => ({ id: mapTaskId(i), input: input as unknown as Json })),
    },
    skipped,
  };
}

export async function curate(project: Project, pipeline: Pipeline, baseDir: string, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<CurateResult> {
  checkRunner(pipeline, runner.name);
  const { plan, skipped } = await planCurate(project, pipeline, baseDir);
  if (!plan) return { manifest: null, skipped, stats: [], summary: { sources: [], rules: [] } };
  const manifest = await executePlan(project, plan, runner, onProgress);
  await routeReviewItems(project, pipeline, manifest);
  const results = await project.catalog.taskResults<{ stats: IngestStats }>(plan.runId);
  const stats = plan.maps.map((m) => results.get(m.id)!.output.stats);
  const summary: CurateSummary = { sources: (manifest.extra?.outcomes ?? []) as CurateSummary['sources'], rules: (manifest.extra?.rule_counts ?? []) as CurateSummary['rules'] };
  return { manifest, skipped, stats, summary };
}
