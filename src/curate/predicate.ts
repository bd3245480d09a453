// TypeScript predicate rules: where their code comes from (a module beside the pipeline, or a
// function in-process), and how one is run over a batch of columns with errors that name the rule.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, UserCodeError } from '../core/errors.ts';
import type { BatchInfo, ColumnBatch, PredicateFn, Rule } from './rules.ts';
import type { Pipeline } from './pipeline.ts';

const MODULE = /^module:(.+)#([A-Za-z_$][\w$]*)$/;
const CONFIG_FILE = 'sluice.yaml'; // as in core/project.ts, without loading the catalog code
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const isPredicateRule = (r: Rule): boolean => r.predicate !== undefined;

/**
 * Makes every `module:` path absolute, relative to the pipeline's folder, so any process (a BullMQ
 * worker in another folder too) loads the same file. Done before hashing, so the run id names it.
 * @example resolvePredicates(p, '/proj/pipelines') // module:./price.ts#ok → module:/proj/pipelines/price.ts#ok
 */
export function resolvePredicates(p: Pipeline, baseDir: string): Pipeline {
  if (!p.rules.some((r) => typeof r.predicate === 'string')) return p;
  const rules = p.rules.map((r) => {
    const m = typeof r.predicate === 'string' ? MODULE.exec(r.predicate) : null;
    if (!m) return r;
    const file = resolve(baseDir, m[1]!);
    if (!existsSync(file)) throw new ConfigError(`rule ${r.id}: predicate module ${file} does not exist`, { hint: `the path in ${r.predicate} is relative to the pipeline file's folder (${baseDir})` });
    return { ...r, predicate: `module:${file}#${m[2]}` };
  });
  return { ...p, rules };
}

/** A function predicate cannot travel to another process: say so before anything is queued. */
export function checkRunner(p: Pipeline, runner: string): void {
  if (runner === 'local') return;
  const fn = p.rules.find((r) => typeof r.predicate === 'function');
  if (fn) throw functionElsewhere(fn.id, runner);
}

function functionElsewhere(id: string, runner: string): ConfigError {
  return new ConfigError(`rule ${id}: a predicate given as a function only runs in-process (the local runner), not on ${runner} workers`, {
    hint: `export it from a file and give predicate: 'module:./path/to/file.ts#name' (relative to the pipeline file)`,
  });
}

/** The project folder that holds `dataDir` (the nearest parent with sluice.yaml), if any. */
function projectRoot(dataDir: string): string | null {
  for (let dir = resolve(dataDir); ; dir = dirname(dir)) {
    if (existsSync(resolve(dir, CONFIG_FILE))) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Loads a rule's predicate. Module files must sit inside the project folder, the sluice package or
 * SLUICE_STAGE_PATH: plans travel through the catalog and Redis and must not name arbitrary code.
 */
export async function loadPredicate(r: Rule, dataDir: string): Promise<PredicateFn> {
  const p = r.predicate;
  if (typeof p === 'function') return p;
  if (typeof p !== 'string') throw new ConfigError(`rule ${r.id} has no predicate`);
  if (p.startsWith('function:')) throw functionElsewhere(r.id, 'BullMQ');
  const m = MODULE.exec(p);
  if (!m) throw new ConfigError(`rule ${r.id}: predicate ${JSON.stringify(p)} is not module:<file>#<export>`);
  const file = resolve(m[1]!);
  const roots = [projectRoot(dataDir), PACKAGE_ROOT, ...(process.env.SLUICE_STAGE_PATH ?? '').split(':').filter(Boolean).map((x) => resolve(x))];
  const inside = roots.some((root) => root !== null && !relative(root, file).startsWith('..') && !isAbsolute(relative(root, file)));
  if (!inside) throw new ConfigError(`rule ${r.id}: predicate module ${file} is outside the project folder`, { hint: 'move it into the project, or add its folder to SLUICE_STAGE_PATH' });
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file);
  } catch (e) {
    throw new UserCodeError(`rule ${r.id}: cannot load predicate module ${file}: ${(e as Error).message}`, (e as Error).stack, { cause: e });
  }
  const fn = mod[m[2]!];
  if (typeof fn !== 'function') throw new ConfigError(`rule ${r.id}: ${file} has no function export ${m[2]}`, { hint: `exports: ${Object.keys(mod).join(', ') || 'none'}` });
  return fn as PredicateFn;
}

/**
 * Imports a user module. A `.ts` file outside any package with `"type": "module"` fails under
 * tsx's global loader on Node ≥ 20.19 (it takes the require(esm) path); tsx's own scoped import
 * loads it as ESM, so that is the fallback.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    if (!/\.[cm]?ts$/.test(file)) throw e;
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

/**
 * Runs one predicate over one batch. Returns which rows break the rule. A throw, or an answer of
 * the wrong shape, is the rule's fault: a UserCodeError naming the rule, the batch and its lines.
 */
export async function runPredicate(r: Rule, fn: PredicateFn, batch: ColumnBatch, info: BatchInfo, lines: [number, number]): Promise<boolean[]> {
  const where = `rule ${r.id}: predicate, batch ${info.batch} of source ${info.source}, file ${info.file} (${info.rows} rows, lines ${lines[0]}–${lines[1]})`;
  let out: ArrayLike<unknown>;
  try {
    out = await fn(batch, info);
  } catch (e) {
    throw new UserCodeError(`${where} threw: ${(e as Error)?.message ?? String(e)}`, (e as Error)?.stack, { cause: e });
  }
  if (!out || typeof out !== 'object' || typeof out.length !== 'number' || out.length !== info.rows) {
    const got = out && typeof out === 'object' && typeof out.length === 'number' ? `${out.length} values` : typeof out;
    throw new UserCodeError(`${where} returned ${got}; expected one boolean per row (${info.rows})`, undefined);
  }
  const broken = new Array<boolean>(info.rows);
  for (let i = 0; i < info.rows; i++) broken[i] = !out[i];
  return broken;
}
