// Runs a plan end to end: registers the run, lets a runner execute its tasks, and commits the
// version in one catalog transaction. Rerunning a plan with the same run id resumes it: finished
// tasks are not redone, and a run that already committed returns its version.
import { HeadMovedError, InternalError, UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { canonicalJson, sha256Text } from '../core/hash.ts';
import type { Project } from '../core/project.ts';
import { type PlanProgress, type PlanSpec, type Runner, type TaskEnv } from './plan.ts';
import { LocalRunner } from './runners/local.ts';
import { loadStage } from './stages.ts';

/** A run id from everything that determines the result. */
export function runIdFor(parts: { stage: string; dataset: string; parent: number | null; config: unknown; inputs: unknown }): string {
  return `${parts.stage}-${sha256Text(canonicalJson(parts)).slice(0, 20)}`;
}

export function taskEnv(project: Project): TaskEnv {
  return { dataDir: project.dataDir, catalogSpec: project.catalogSpec, threads: project.budget.total };
}

/**
 * The runner a project or a `--runner` option names: `local` or a Redis URL; `queue` names the
 * BullMQ queue (workers must listen on the same one).
 */
export async function makeRunner(project: Project, spec?: string, options: { queue?: string } = {}): Promise<Runner> {
  const which = spec ?? project.config.runner;
  if (which === 'local') return new LocalRunner(await project.duck(), project.catalog);
  if (!/^rediss?:\/\//.test(which)) throw new UsageError(`unknown runner ${JSON.stringify(which)}`, { hint: 'use `local` or a Redis URL such as redis://127.0.0.1:6379' });
  const { BullmqRunner } = await import('./runners/bullmq.ts');
  return new BullmqRunner({ redisUrl: which, catalog: project.catalog, ...(options.queue ? { queue: options.queue } : {}) });
}

export async function executePlan(
  project: Project,
  plan: PlanSpec,
  runner: Runner,
  onProgress?: (p: PlanProgress) => void,
): Promise<Manifest> {
  const { catalog } = project;
  const rec = await catalog.beginRun(plan.runId, plan.stage, plan.dataset, plan);
  if (rec.status === 'committed' && rec.version !== null) return catalog.manifest(plan.dataset, rec.version);
  // Workers read the plan from the catalog: a run id must always name the same plan.
  if (canonicalJson(JSON.parse(rec.plan)) !== canonicalJson(plan)) {
    throw new InternalError(`run ${plan.runId} is recorded with a different plan than the one given`, {
      hint: 'the stage\'s run id must cover everything in its plan; please report this',
    });
  }
  if (rec.status === 'failed') await catalog.reopenRun(plan.runId);
  try {
    const stage = await loadStage(plan.stage);
    const outputs = await runner.run(plan, taskEnv(project), onProgress);
    onProgress?.({ phase: 'commit', done: 0, total: 1 });
    const duck = await project.duck();
    for (let tries = 0; ; tries++) {
      const head = await catalog.head(plan.dataset);
      const canRebase = stage.rebase?.(plan) ?? false;
      const base = canRebase ? head : plan.parent;
      const headManifest = base === null ? null : await catalog.manifest(plan.dataset, base);
      const { companions, ...draft } = await stage.commit(plan, outputs, headManifest, { duck, dataDir: project.dataDir });
      try {
        const m = await catalog.commit(plan.dataset, base, draft, plan.runId, companions);
        onProgress?.({ phase: 'commit', done: 1, total: 1 });
        return m;
      } catch (e) {
        if (!(e instanceof HeadMovedError) || !canRebase || tries >= 10) throw e;
      }
    }
  } catch (e) {
    await catalog.failRun(plan.runId, (e as Error).message).catch(() => {});
    throw e;
  }
}
