// The stage registry: plans name their stage, and every process (coordinator, local runner,
// sandboxed BullMQ processor) loads the same code by that name.
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.ts';
import type { Stage } from './plan.ts';

type Loader = () => Promise<Stage>;

const BUILT_IN: Record<string, Loader> = {
  import: async () => (await import('../io/import-stage.ts')).importStage,
  'dedup-by-key': async () => (await import('./stages/dedup-by-key.ts')).dedupByKeyStage,
  ingest: async () => (await import('../curate/ingest-stage.ts')).ingestStage,
  curate: async () => (await import('../curate/curate-stage.ts')).curateStage,
  noop: async () => (await import('./stages/noop.ts')).noopStage,
  infer: async () => (await import('../model/infer/stage.ts')).inferStage,
  'infer-deadletter': async () => (await import('../model/infer/deadletter-stage.ts')).deadletterStage,
  stats: async () => (await import('../analyze/stats-stage.ts')).statsStage,
  split: async () => (await import('../analyze/split-stage.ts')).splitStage,
  rebalance: async () => (await import('../analyze/rebalance-stage.ts')).rebalanceStage,
  mine: async () => (await import('../mine/stage.ts')).mineStage,
  score: async () => (await import('../score/stage.ts')).scoreStage,
};

/** The sluice package root: module stages must live inside it or inside SLUICE_STAGE_PATH. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function allowedRoots(): string[] {
  const extra = (process.env.SLUICE_STAGE_PATH ?? '').split(':').filter(Boolean);
  return [PACKAGE_ROOT, ...extra.map((p) => resolve(p))];
}

/**
 * Loads a stage by name: a built-in name, or `module:<abs path>#<export>` for stages written
 * outside the registry (tests, user code). A module path must sit inside an allowed folder, since
 * plans travel through Redis and must not name arbitrary code.
 */
export async function loadStage(name: string): Promise<Stage> {
  const builtIn = BUILT_IN[name];
  if (builtIn) return builtIn();
  const m = /^module:(.+)#([A-Za-z_$][\w$]*)$/.exec(name);
  if (!m) throw new ConfigError(`unknown stage ${JSON.stringify(name)}`, { hint: `use one of ${Object.keys(BUILT_IN).join(', ')}` });
  const file = resolve(m[1]!);
  const inside = allowedRoots().some((root) => {
    const r = relative(root, file);
    return !r.startsWith('..') && !isAbsolute(r);
  });
  if (!inside) throw new ConfigError(`stage module ${file} is outside the allowed folders`, { hint: 'add its folder to SLUICE_STAGE_PATH' });
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const stage = mod[m[2]!] as Stage | undefined;
  if (!stage || typeof stage.map !== 'function') throw new ConfigError(`${file} has no stage export ${m[2]}`);
  return stage;
}
