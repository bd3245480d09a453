// sluice's TypeScript API: named exports, grouped by the system's nouns.

// core: errors, refs, manifests, projects
export * from './core/errors.ts';
export { parseRef, formatRef, type Ref } from './core/ref.ts';
export type { Manifest, ManifestDraft, Part, Column, Licence } from './core/manifest.ts';
export { Project } from './core/project.ts';
export { scanSql, verifyManifest } from './core/dataset.ts';
export { showVersion, diffVersions } from './core/inspect.ts';
export { collectGarbage } from './core/gc.ts';

// store: the catalog over SQLite or PostgreSQL
export { Catalog } from './store/catalog.ts';
export { openCatalog, type CatalogSpec } from './store/open.ts';

// engine: DuckDB session, plans, runners
export { DuckSession } from './engine/duckdb.ts';
export type { PlanSpec, Stage, Runner, TaskOutput, PlanProgress } from './engine/plan.ts';
export { executePlan, makeRunner } from './engine/execute.ts';
export { LocalRunner } from './engine/runners/local.ts';
export { dedupByKey } from './engine/dedup.ts';

// io: import and export
export { importFiles, planImport } from './io/import.ts';
export { exportVersion } from './io/export.ts';

// curate: pipelines, accounting, rules, duplicates, conflicts, point-in-time joins, purge
export { definePipeline, loadPipeline, type Pipeline, type PipelineInput } from './curate/pipeline.ts';
export { curate, planCurate, type CurateResult } from './curate/curate.ts';
export { purgeSource } from './curate/purge.ts';
export { type ColumnBatch, type BatchInfo, type PredicateFn } from './curate/rules.ts';
export { reconcile, type CurateSummary, type SourceOutcomes, type RuleCount } from './curate/summary.ts';

// analyze: statistics, drift, splits, rebalancing, reports
export { computeStats } from './analyze/stats.ts';
export { computeDrift } from './analyze/drift.ts';
export { splitVersion } from './analyze/split.ts';
export { rebalanceVersion } from './analyze/rebalance.ts';
export { statsHtml, driftHtml } from './analyze/report.ts';

// model: the baseline trainer (the registry and inference load ONNX Runtime, so they stay out of the root import)
export { trainBaseline, type TrainOptions, type TrainResult } from './model/train/train.ts';

// review: the queue and folding decisions back
export { openReviewStore } from './review/store.ts';
export { applyReview } from './review/apply.ts';
export type { ReviewItemInput } from './review/types.ts';

// mine: hard-example mining (ONNX Runtime loads on first call)
export { mine, type MineOptions, type MineResult } from './mine/api.ts';

// score: bulk candidate scoring, top k per context (ONNX Runtime loads on first call)
export { scoreCandidates, type ScoreOptions, type ScoreResult } from './score/api.ts';
