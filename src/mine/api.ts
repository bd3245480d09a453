// The mining API for the root index, loaded on first call so `import 'sluice'` does not load ONNX Runtime.
import type { PlanProgress, Runner } from '../engine/plan.ts';
import type { Project } from '../core/project.ts';
import type { MineOptions, MineResult } from './plan.ts';

export type { MineOptions, MineResult } from './plan.ts';

/** See `mine` in src/mine/plan.ts. */
export async function mine(project: Project, o: MineOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<MineResult> {
  return (await import('./plan.ts')).mine(project, o, runner, onProgress);
}
