// Dataset, tag and source names, and paths that must never escape their folder.
import { realpathSync, lstatSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from './errors.ts';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/i;

/**
 * Checks a dataset, tag or model name: letters, digits, `_ . -`, at most 128 characters,
 * not starting with a dot, no `..`. Returns the name.
 * @example assertName('ads-train', 'dataset') // 'ads-train'
 */
export function assertName(name: string, what: string): string {
  if (!NAME.test(name) || name.includes('..')) {
    throw new InputError(`invalid ${what} name ${JSON.stringify(name)}`, {
      hint: `use 1–128 letters, digits, '_', '.', '-', starting with a letter or digit (no '/', no '..')`,
    });
  }
  return name;
}

/**
 * Joins `parts` under `root` and refuses any result outside it, including through a symlink
 * that already exists on the way.
 */
export function safeJoin(root: string, ...parts: string[]): string {
  const base = resolve(root);
  for (const p of parts) {
    if (isAbsolute(p)) throw new InputError(`path ${JSON.stringify(p)} is absolute; expected a path inside ${base}`);
  }
  const target = resolve(base, ...parts);
  const rel = relative(base, target);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new InputError(`path ${JSON.stringify(parts.join('/'))} escapes ${base}`);
  }
  // Walk existing components: a symlink may point outside even when the text does not.
  let cur = base;
  const baseReal = realpathOrSelf(base);
  for (const seg of rel.split(sep).filter(Boolean)) {
    cur = resolve(cur, seg);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      break; // does not exist yet: nothing below can be a link
    }
    if (st.isSymbolicLink()) {
      const real = realpathOrSelf(cur);
      const r = relative(baseReal, real);
      if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
        throw new InputError(`path ${JSON.stringify(parts.join('/'))} goes through symlink ${cur} to ${real}, outside ${base}`);
      }
    }
  }
  return target;
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
