// The catalog: datasets, versions (manifests), tags, and the run/task records plans commit through.
//
// One class over SqlDb serves SQLite and PostgreSQL; the SQL is the subset both speak.
// Promises: a version becomes visible only in `commit`'s transaction; a commit whose parent is not
// the head fails with HeadMovedError; a run commits at most one version (its run id is unique), so
// a rerun of a committed run returns that version instead of committing again.
import { HeadMovedError, NotFoundError } from '../core/errors.ts';
import { type Manifest, type ManifestDraft, parseManifest, referencedFiles } from '../core/manifest.ts';
import { formatRef, type Ref } from '../core/ref.ts';
import { forUpdate, type SqlDb, type SqlTx } from './sql.ts';
import { warnExpired } from '../core/warn.ts';

const DDL = `
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY, head BIGINT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
  dataset TEXT NOT NULL, version BIGINT NOT NULL, manifest TEXT NOT NULL, row_count BIGINT NOT NULL,
  operation TEXT NOT NULL, run_id TEXT, created_at TEXT NOT NULL, PRIMARY KEY (dataset, version));
CREATE UNIQUE INDEX IF NOT EXISTS versions_run_id ON versions (run_id);
CREATE TABLE IF NOT EXISTS version_files (
  dataset TEXT NOT NULL, version BIGINT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (dataset, version, path));
CREATE INDEX IF NOT EXISTS version_files_path ON version_files (path);
CREATE TABLE IF NOT EXISTS tags (
  dataset TEXT NOT NULL, tag TEXT NOT NULL, version BIGINT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (dataset, tag));
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, stage TEXT NOT NULL, dataset TEXT NOT NULL, plan TEXT NOT NULL, status TEXT NOT NULL,
  version BIGINT, error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_results (
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, attempt_id TEXT NOT NULL, output TEXT NOT NULL,
  created_at TEXT NOT NULL, PRIMARY KEY (run_id, task_id));
`;

/**
 * A dataset that gains parts in the same transaction as a commit (e.g. `<target>-quarantine`):
 * always built on its current head, so it never fails on a moved head.
 */
export interface Companion {
  dataset: string;
  parts: Manifest['parts'];
  schema: Manifest['schema'];
  operation: string;
  config_hash: string;
  licences: Manifest['licences'];
  extra?: Record<string, unknown>;
  /** start over from these parts instead of adding them to the head's */
  replace?: boolean;
}

export interface DatasetInfo {
  name: string;
  head: number | null;
  rows: number | null;
  updated_at: string;
}

export interface VersionInfo {
  version: number;
  rows: number;
  operation: string;
  created_at: string;
  run_id: string | null;
}

export interface RunRecord {
  run_id: string;
  stage: string;
  dataset: string;
  plan: string;
  status: 'running' | 'committed' | 'failed';
  version: number | null;
  error: string | null;
}

export interface TaskResult<O = unknown> {
  task_id: string;
  attempt_id: string;
  output: O;
}

const now = () => new Date().toISOString();

export class Catalog {
  constructor(readonly db: SqlDb) {}

  async init(): Promise<void> {
    await this.db.exec(DDL);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async listDatasets(): Promise<DatasetInfo[]> {
    return this.db.all<DatasetInfo>(
      `SELECT d.name, d.head, v.row_count AS rows, d.updated_at FROM datasets d
       LEFT JOIN versions v ON v.dataset = d.name AND v.version = d.head ORDER BY d.name`,
    );
  }

  async head(dataset: string): Promise<number | null> {
    const r = await this.db.get<{ head: number | null }>('SELECT head FROM datasets WHERE name = ?', [dataset]);
    return r?.head ?? null;
  }

  async versions(dataset: string): Promise<VersionInfo[]> {
    return this.db.all<VersionInfo>(
      'SELECT version, row_count AS rows, operation, created_at, run_id FROM versions WHERE dataset = ? ORDER BY version',
      [dataset],
    );
  }

  async manifest(dataset: string, version: number): Promise<Manifest> {
    const r = await this.db.get<{ manifest: string }>('SELECT manifest FROM versions WHERE dataset = ? AND version = ?', [dataset, version]);
    if (!r) {
      const head = await this.head(dataset);
      throw new NotFoundError(
        head === null ? `dataset ${dataset} does not exist` : `version ${formatRef(dataset, version)} does not exist (head is ${head})`,
        { hint: 'list datasets with `sluice datasets` and versions with `sluice show <name>`' },
      );
    }
    return parseManifest(r.manifest, formatRef(dataset, version));
  }

  /** The manifest a ref points to; warns (once per process) if a licence of its data has expired. */
  async resolve(ref: Ref): Promise<Manifest> {
    const m = await this.resolveQuiet(ref);
    warnExpired(m.licences, `${m.dataset}@${m.version}`);
    return m;
  }

  private async resolveQuiet(ref: Ref): Promise<Manifest> {
    if (ref.kind === 'version') return this.manifest(ref.dataset, ref.version);
    if (ref.kind === 'latest') {
      const head = await this.head(ref.dataset);
      if (head === null) throw new NotFoundError(`dataset ${ref.dataset} does not exist`, { hint: 'list datasets with `sluice datasets`' });
      return this.manifest(ref.dataset, head);
    }
    const t = await this.db.get<{ version: number }>('SELECT version FROM tags WHERE dataset = ? AND tag = ?', [ref.dataset, ref.tag]);
    if (!t) throw new NotFoundError(`tag ${ref.dataset}@${ref.tag} does not exist`, { hint: 'list tags with `sluice show <name>`' });
    return this.manifest(ref.dataset, t.version);
  }

  /**
   * Commits a new version whose parent is `parent` (null for a new dataset). Fails with
   * HeadMovedError if the head is not `parent`. With a run id, a second commit of the same run
   * returns the first one's manifest: reruns after a crash are idempotent.
   */
  async commit(dataset: string, parent: number | null, draft: ManifestDraft, runId?: string, companions: Companion[] = []): Promise<Manifest> {
    return this.db.transaction(async (tx) => {
      if (runId) {
        const done = await tx.get<{ dataset: string; version: number; manifest: string }>(
          'SELECT dataset, version, manifest FROM versions WHERE run_id = ?',
          [runId],
        );
        if (done) return parseManifest(done.manifest, formatRef(done.dataset, done.version));
      }
      const t = now();
      await tx.run(
        `INSERT INTO datasets (name, head, created_at, updated_at) VALUES (?, NULL, ?, ?) ON CONFLICT (name) DO NOTHING`,
        [dataset, t, t],
      );
      const row = await tx.get<{ head: number | null }>(`SELECT head FROM datasets WHERE name = ?${forUpdate(this.db)}`, [dataset]);
      const head = row?.head ?? null;
      if (head !== parent) throw new HeadMovedError(dataset, parent, head);
      const version = (head ?? 0) + 1;
      const manifest: Manifest = { format: 1, dataset, version, created_at: t, ...draft, ...(runId ? { run_id: runId } : {}) };
      await tx.run(
        'INSERT INTO versions (dataset, version, manifest, row_count, operation, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [dataset, version, JSON.stringify(manifest), manifest.rows, manifest.operation, runId ?? null, t],
      );
      for (const path of new Set(referencedFiles(manifest))) {
        await tx.run('INSERT INTO version_files (dataset, version, path) VALUES (?, ?, ?)', [dataset, version, path]);
      }
      await tx.run('UPDATE datasets SET head = ?, updated_at = ? WHERE name = ?', [version, t, dataset]);
      for (const c of companions) await this.appendCompanion(tx, c, `${dataset}@${version}`, t);
      if (runId) await tx.run(`UPDATE runs SET status = 'committed', version = ?, updated_at = ? WHERE run_id = ?`, [version, t, runId]);
      return manifest;
    });
  }

  private async appendCompanion(tx: SqlTx, c: Companion, from: string, t: string): Promise<void> {
    await tx.run(`INSERT INTO datasets (name, head, created_at, updated_at) VALUES (?, NULL, ?, ?) ON CONFLICT (name) DO NOTHING`, [c.dataset, t, t]);
    const row = await tx.get<{ head: number | null }>(`SELECT head FROM datasets WHERE name = ?${forUpdate(this.db)}`, [c.dataset]);
    const head = row?.head ?? null;
    let prev: Manifest | null = null;
    if (head !== null) {
      const r = await tx.get<{ manifest: string }>('SELECT manifest FROM versions WHERE dataset = ? AND version = ?', [c.dataset, head]);
      prev = parseManifest(r!.manifest, formatRef(c.dataset, head));
    }
    const parts = [...(prev && !c.replace ? prev.parts : []), ...c.parts];
    const manifest: Manifest = {
      format: 1,
      dataset: c.dataset,
      version: (head ?? 0) + 1,
      created_at: t,
      schema: c.schema,
      parts,
      rows: parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
      parents: [...(prev ? [formatRef(c.dataset, prev.version)] : []), from],
      operation: c.operation,
      config_hash: c.config_hash,
      licences: [...(prev?.licences ?? []), ...c.licences].filter((l, i, a) => a.findIndex((x) => x.source === l.source && x.licence === l.licence) === i),
      ...(c.extra ? { extra: c.extra } : {}),
    };
    await tx.run(
      'INSERT INTO versions (dataset, version, manifest, row_count, operation, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [c.dataset, manifest.version, JSON.stringify(manifest), manifest.rows, manifest.operation, null, t],
    );
    for (const path of new Set(referencedFiles(manifest))) {
      await tx.run('INSERT INTO version_files (dataset, version, path) VALUES (?, ?, ?)', [c.dataset, manifest.version, path]);
    }
    await tx.run('UPDATE datasets SET head = ?, updated_at = ? WHERE name = ?', [manifest.version, t, c.dataset]);
  }

  async setTag(dataset: string, tag: string, version: number): Promise<void> {
    await this.manifest(dataset, version); // NotFoundError if absent
    const t = now();
    await this.db.run(
      `INSERT INTO tags (dataset, tag, version, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (dataset, tag) DO UPDATE SET version = excluded.version, created_at = excluded.created_at`,
      [dataset, tag, version, t],
    );
  }

  async deleteTag(dataset: string, tag: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM tags WHERE dataset = ? AND tag = ?', [dataset, tag])) > 0;
  }

  async tags(dataset: string): Promise<{ tag: string; version: number }[]> {
    return this.db.all('SELECT tag, version FROM tags WHERE dataset = ? ORDER BY tag', [dataset]);
  }

  /** Every file path some version references: what `gc` must keep. */
  async referencedPaths(): Promise<Set<string>> {
    const rows = await this.db.all<{ path: string }>('SELECT DISTINCT path FROM version_files');
    return new Set(rows.map((r) => r.path));
  }

  // ---- runs and task attempts (plans) ----

  /** Registers a run, or returns the existing record when the same run id was started before. */
  async beginRun(runId: string, stage: string, dataset: string, plan: unknown): Promise<RunRecord> {
    const t = now();
    await this.db.run(
      `INSERT INTO runs (run_id, stage, dataset, plan, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?)
       ON CONFLICT (run_id) DO NOTHING`,
      [runId, stage, dataset, JSON.stringify(plan), t, t],
    );
    return (await this.run(runId))!;
  }

  async run(runId: string): Promise<RunRecord | undefined> {
    return this.db.get<RunRecord>('SELECT run_id, stage, dataset, plan, status, version, error FROM runs WHERE run_id = ?', [runId]);
  }

  async failRun(runId: string, error: string): Promise<void> {
    await this.db.run(`UPDATE runs SET status = 'failed', error = ?, updated_at = ? WHERE run_id = ? AND status <> 'committed'`, [error, now(), runId]);
  }

  /** Re-opens a failed run for another try. */
  async reopenRun(runId: string): Promise<void> {
    await this.db.run(`UPDATE runs SET status = 'running', error = NULL, updated_at = ? WHERE run_id = ? AND status = 'failed'`, [now(), runId]);
  }

  /**
   * Records a finished task attempt. The first attempt to record wins; a later one (a zombie that
   * woke up, a duplicate delivery) gets the winner back and its own output is ignored.
   */
  async recordTask<O>(runId: string, taskId: string, attemptId: string, output: O): Promise<TaskResult<O>> {
    // One statement in the common case (tiny tasks pay per round trip); the row, once there,
    // never changes, so reading the winner after a lost insert needs no transaction.
    const text = JSON.stringify(output);
    const mine = await this.db.get<{ attempt_id: string }>(
      `INSERT INTO task_results (run_id, task_id, attempt_id, output, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, task_id) DO NOTHING RETURNING attempt_id`,
      [runId, taskId, attemptId, text, now()],
    );
    if (mine) return { task_id: taskId, attempt_id: attemptId, output: JSON.parse(text) as O };
    return (await this.taskResult<O>(runId, taskId))!;
  }

  /** One task's recorded result, if any attempt finished (a point lookup: tasks check this first). */
  async taskResult<O>(runId: string, taskId: string): Promise<TaskResult<O> | undefined> {
    const r = await this.db.get<{ attempt_id: string; output: string }>('SELECT attempt_id, output FROM task_results WHERE run_id = ? AND task_id = ?', [runId, taskId]);
    return r ? { task_id: taskId, attempt_id: r.attempt_id, output: JSON.parse(r.output) as O } : undefined;
  }

  async taskResults<O>(runId: string): Promise<Map<string, TaskResult<O>>> {
    const rows = await this.db.all<{ task_id: string; attempt_id: string; output: string }>(
      'SELECT task_id, attempt_id, output FROM task_results WHERE run_id = ?',
      [runId],
    );
    return new Map(rows.map((r) => [r.task_id, { task_id: r.task_id, attempt_id: r.attempt_id, output: JSON.parse(r.output) as O }]));
  }
}
