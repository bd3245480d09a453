// File globs (`*`, `?`, `**`, `{a,b}`) expanded against the file system, sorted.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { InputError } from './errors.ts';

function toRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((s) => s.replace(/[.+^$()|[\]\\]/g, '\\$&')).join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files matching a path or glob, relative to `cwd`; an error if nothing matches. */
export function expandGlob(pattern: string, cwd = process.cwd()): string[] {
  if (!/[*?{]/.test(pattern)) {
    const abs = resolve(cwd, pattern);
    let st;
    try {
      st = statSync(abs);
    } catch (e) {
      throw new InputError(`cannot read ${pattern}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
        cause: e,
        hint: 'check the path',
      });
    }
    if (st.isDirectory()) throw new InputError(`${pattern} is a folder`, { hint: `name the files, e.g. ${join(pattern, '*.csv')}` });
    return [abs];
  }
  const abs = resolve(cwd, pattern).split(sep).join('/');
  const first = abs.search(/[*?{]/);
  const root = abs.slice(0, abs.lastIndexOf('/', first) + 1) || '/';
  const re = toRegex(abs);
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${dir.endsWith('/') ? dir : dir + '/'}${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (re.test(p)) out.push(p);
    }
  };
  walk(root);
  if (out.length === 0) throw new InputError(`no file matches ${pattern}`, { hint: 'check the pattern and the current folder' });
  return out.sort();
}
