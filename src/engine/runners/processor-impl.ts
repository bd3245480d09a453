// What a `sluice worker` child process does with one job: open (and keep) the catalog and a
// DuckDB session, read the plan from the catalog, and run the task attempt.
import type { SandboxedJob } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { openCatalog, type CatalogSpec } from '../../store/open.ts';
import type { Catalog } from '../../store/catalog.ts';
import { DuckSession } from '../duckdb.ts';
import { UnrecoverableError } from 'bullmq';
import type { PlanSpec } from '../plan.ts';
import { executeTask, isPermanent } from '../task.ts';
import { UserCodeError } from '../../core/errors.ts';
import type { JobData } from './bullmq.ts';

const catalogs = new Map<string, Promise<Catalog>>();
const plans = new Map<string, PlanSpec>();
let duck: Promise<DuckSession> | undefined;

function catalogFor(spec: CatalogSpec): Promise<Catalog> {
  // A worker started with --pg uses that URL: the coordinator may name the server differently.
  const override = process.env.SLUICE_WORKER_PG;
  const s: CatalogSpec = spec.kind === 'postgres' && override ? { ...spec, url: override } : spec;
  const key = JSON.stringify(s);
  let c = catalogs.get(key);
  if (!c) catalogs.set(key, (c = openCatalog(s)));
  return c;
}

export async function processJob(job: SandboxedJob<JobData>): Promise<string> {
  const data = job.data;
  if (data.barrier || !data.task) return 'barrier';
  const catalog = await catalogFor(data.env.catalogSpec);
  // Keyed by catalog too: two projects sharing a queue may hold runs with the same id.
  const planKey = `${JSON.stringify(data.env.catalogSpec)}|${data.runId}`;
  let plan = plans.get(planKey);
  if (!plan) {
    const rec = await catalog.run(data.runId);
    if (!rec) throw new UnrecoverableError(`run ${data.runId} is not in the catalog`);
    plan = JSON.parse(rec.plan) as PlanSpec;
    plans.set(planKey, plan);
  }
  const threads = Number(process.env.SLUICE_WORKER_THREADS) || data.env.threads;
  duck ??= DuckSession.open({ threads });
  try {
    const r = await executeTask({
      env: { ...data.env, threads },
      plan,
      task: data.task,
      duck: await duck,
      catalog,
      attemptId: `a${job.attemptsMade}-${randomUUID().slice(0, 8)}`,
      onProgress: (done, total) => void job.updateProgress(total ? Math.round((100 * done) / total) : done),
    });
    return r.attempt_id;
  } catch (e) {
    if (isPermanent(e)) throw new UnrecoverableError((e as Error).message);
    if (e instanceof UserCodeError) throw withUserStack(e);
    throw e;
  }
}

/**
 * BullMQ keeps only an error's message and stack: give it the user's frames (where their stage
 * threw), not ours (where we wrapped it), so the coordinator can show them.
 */
function withUserStack(e: UserCodeError): Error {
  const err = new Error(e.message);
  const frames = (e.userStack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  err.stack = [`UserCodeError: ${e.message}`, ...frames].join('\n');
  return err;
}
