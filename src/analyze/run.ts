// Runs an analysis plan's tasks without committing a version: a stats run's result is a report.
// Finished tasks are reused when the same run id runs again (same version, same config).
import type { Project } from '../core/project.ts';
import { taskEnv } from '../engine/execute.ts';
import type { PlanOutputs, PlanProgress, PlanSpec, Runner } from '../engine/plan.ts';

export async function runTasks(project: Project, plan: PlanSpec, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<PlanOutputs> {
  const rec = await project.catalog.beginRun(plan.runId, plan.stage, plan.dataset, plan);
  if (rec.status === 'failed') await project.catalog.reopenRun(plan.runId);
  try {
    return await runner.run(plan, taskEnv(project), onProgress);
  } catch (e) {
    await project.catalog.failRun(plan.runId, (e as Error).message).catch(() => {});
    throw e;
  }
}
