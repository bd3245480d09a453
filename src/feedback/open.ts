// Opens a project's feedback join: its state database, the join spec, and the incremental metrics
// (issue 12's accumulator) folded into the same transaction that emits the examples.
import { join } from 'node:path';
import type { Project } from '../core/project.ts';
import type { SqlDb } from '../store/sql.ts';
import { FeedbackJoin } from './join.ts';
import { accumulateMetrics, ensureMetricsSchema } from './metrics/accumulate.ts';
import { loadJoinSpec, type JoinSpec } from './spec.ts';
import { openFeedbackDb } from './state.ts';
import type { EventLog } from '../log/event-log.ts';
import { projectLog } from '../log/open.ts';

/** The spec at `path`, else `<project>/feedback.yaml` when present, else the defaults. */
export function projectJoinSpec(project: Project, path?: string): JoinSpec {
  return loadJoinSpec(path, join(project.root, 'feedback.yaml'));
}

export async function openJoin(project: Project, spec: JoinSpec, options: { metrics?: boolean } = {}): Promise<{ join: FeedbackJoin; db: SqlDb }> {
  const db = openFeedbackDb(project);
  try {
    if (options.metrics !== false) await ensureMetricsSchema(db);
    return { join: await FeedbackJoin.open(db, spec, options.metrics === false ? undefined : accumulateMetrics), db };
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}

/** Everything `feedback run` folds: the spec, the join over its state, and the two logs it reads. */
export interface OpenFeedback {
  spec: JoinSpec;
  join: FeedbackJoin;
  db: SqlDb;
  logs: { predictions: EventLog<unknown>; events: EventLog<unknown> };
  close(): Promise<void>;
}

/** Opens a project's join (spec at `path`, or the project's) and its predictions and events logs. */
export async function openFeedback(project: Project, path?: string): Promise<OpenFeedback> {
  const spec = projectJoinSpec(project, path);
  const { join, db } = await openJoin(project, spec);
  const logs = { predictions: await projectLog<unknown>(project, 'predictions'), events: await projectLog<unknown>(project, 'events') };
  return {
    spec,
    join,
    db,
    logs,
    async close() {
      await logs.predictions.close();
      await logs.events.close();
      await db.close();
    },
  };
}
