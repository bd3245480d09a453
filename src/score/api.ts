// The scoring API for the root index, loaded on first call so `import 'sluice'` does not load ONNX Runtime.
import type { PlanProgress, Runner } from '../engine/plan.ts';
import type { Project } from '../core/project.ts';
import type { ScoreOptions, ScoreResult } from './plan.ts';

export type { ScoreOptions, ScoreResult } from './plan.ts';

/** See `scoreCandidates` in src/score/plan.ts. */
export async function scoreCandidates(project: Project, o: ScoreOptions, runner: Runner, onProgress?: (p: PlanProgress) => void): Promise<ScoreResult> {
  return (await import('./plan.ts')).scoreCandidates(project, o, runner, onProgress);
}
