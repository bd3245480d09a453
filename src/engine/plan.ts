// The plan contract: a batch stage is map tasks (one per input) → optional shuffle by key hash
// into N partitions → reduce tasks (one per partition) → one catalog commit.
//
// A plan is plain JSON so any runner can ship it to another process. Stage code is found by name
// in the stage registry (stages.ts); a task names its stage, its kind and its input.
import type { FileEntry, Manifest, ManifestDraft } from '../core/manifest.ts';
import type { CatalogSpec } from '../store/open.ts';
import type { Catalog, Companion } from '../store/catalog.ts';
import type { DuckSession } from './duckdb.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface MapTask {
  id: string;
  input: Json;
}

export interface PlanSpec {
  /** deterministic: the same stage, target, parent, config and inputs give the same id */
  runId: string;
  stage: string;
  dataset: string;
  /** the dataset's head when the plan was made (null for a new dataset) */
  parent: number | null;
  config: Json;
  maps: MapTask[];
  /** hash-partition map outputs by these columns into `partitions` files per map task */
  shuffle?: { key: string[]; partitions: number };
  /** run one reduce task per partition (requires shuffle) */
  reduce?: boolean;
  /** attempts per task before the run fails */
  maxAttempts?: number;
}

/** What a task hands back; recorded in the catalog by the attempt that finishes first. */
export interface TaskOutput {
  /** Parquet files (relative to the data folder) that enter the version as parts */
  parts?: (FileEntry & { lineage?: Json })[];
  /** shuffle files, by partition number */
  shuffle?: Record<string, FileEntry[]>;
  /** counts or anything the commit needs */
  stats?: Json;
}

/** Where a task runs: the folders and connections it may use. */
export interface TaskEnv {
  dataDir: string;
  catalogSpec: CatalogSpec;
  threads: number;
}

export interface TaskContext {
  env: TaskEnv;
  plan: PlanSpec;
  taskId: string;
  attemptId: string;
  /** this attempt's own folder, relative to the data folder; nothing else is written */
  outDir: string;
  duck: DuckSession;
  catalog: Catalog;
  progress(done: number, total?: number): void;
  /** tasks of this phase running at the same time in this process (1 when not known) */
  parallel?: number;
}

export interface Stage {
  name: string;
  map(ctx: TaskContext, task: MapTask): Promise<TaskOutput>;
  reduce?(ctx: TaskContext, partition: number, inputs: FileEntry[]): Promise<TaskOutput>;
  /**
   * Builds the version from the chosen outputs. `head` is the dataset's current head, which may
   * differ from `plan.parent` when `rebase` allows building on a newer head.
   */
  commit(plan: PlanSpec, outputs: PlanOutputs, head: Manifest | null, ctx: { duck: DuckSession; dataDir: string }): Promise<CommitDraft>;
  /** true if the commit may be rebuilt on a head that moved (append-like operations) */
  rebase?(plan: PlanSpec): boolean;
  /**
   * Map tasks the local runner may run at once, each on its own DuckDB connection (default 1):
   * for stages whose tasks leave cores idle part of the time (a single-threaded step in TypeScript
   * beside DuckDB's parallel one), so another task's work fills them.
   */
  mapConcurrency?: number;
}

/** A version draft, plus datasets that gain parts in the same transaction (e.g. quarantine). */
export type CommitDraft = ManifestDraft & { companions?: Companion[] };

export interface PlanOutputs {
  maps: Map<string, TaskOutput>;
  reduces: Map<string, TaskOutput>;
}

export interface PlanProgress {
  phase: 'map' | 'reduce' | 'commit';
  done: number;
  total: number;
  task?: string;
}

export const mapTaskId = (i: number) => `m${String(i).padStart(5, '0')}`;
export const reduceTaskId = (p: number) => `r${String(p).padStart(5, '0')}`;

/** A runner executes a plan's tasks and returns the winning output of each. */
export interface Runner {
  readonly name: string;
  run(plan: PlanSpec, env: TaskEnv, onProgress?: (p: PlanProgress) => void): Promise<PlanOutputs>;
  close?(): Promise<void>;
}
