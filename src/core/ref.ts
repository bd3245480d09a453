// Dataset references: `name`, `name@3`, `name@latest`, `name@tag`.
import { UsageError } from './errors.ts';
import { assertName } from './names.ts';

export type Ref =
  | { dataset: string; kind: 'latest' }
  | { dataset: string; kind: 'version'; version: number }
  | { dataset: string; kind: 'tag'; tag: string };

/**
 * Parses a ref string.
 * @example parseRef('ads@3') // { dataset: 'ads', kind: 'version', version: 3 }
 */
export function parseRef(text: string): Ref {
  const at = text.lastIndexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const sel = at < 0 ? 'latest' : text.slice(at + 1);
  try {
    assertName(name, 'dataset');
  } catch (e) {
    throw new UsageError(`bad ref ${JSON.stringify(text)}: ${(e as Error).message}`, { hint: 'write name, name@3, name@latest or name@tag' });
  }
  if (sel === '' ) throw new UsageError(`bad ref ${JSON.stringify(text)}: nothing after '@'`, { hint: 'write name@3, name@latest or name@tag' });
  if (sel === 'latest') return { dataset: name, kind: 'latest' };
  if (/^\d+$/.test(sel)) {
    const version = Number(sel);
    if (version < 1 || !Number.isSafeInteger(version)) throw new UsageError(`bad ref ${JSON.stringify(text)}: versions start at 1`);
    return { dataset: name, kind: 'version', version };
  }
  assertName(sel, 'tag');
  return { dataset: name, kind: 'tag', tag: sel };
}

export function formatRef(dataset: string, version: number): string {
  return `${dataset}@${version}`;
}
