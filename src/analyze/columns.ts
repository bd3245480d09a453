// Column kinds: which statistics a DuckDB type can take (numbers, categories, strings, lists…).
import { InputError } from '../core/errors.ts';
import type { Column, Manifest } from '../core/manifest.ts';
import { SYSTEM_COLUMNS } from '../core/dataset.ts';

export type Kind = 'number' | 'boolean' | 'string' | 'time' | 'list' | 'blob' | 'other';

const NUMBER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;
const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;

export function kindOf(type: string): Kind {
  const t = type.toUpperCase();
  if (NUMBER.test(t)) return 'number';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'VARCHAR' || t.startsWith('ENUM')) return 'string';
  if (t === 'DATE' || t.startsWith('TIMESTAMP') || t.startsWith('TIME')) return 'time';
  if (t.endsWith('[]') || /\[\d+\]$/.test(t)) return 'list';
  if (t === 'BLOB') return 'blob';
  return 'other';
}

export const isInteger = (type: string): boolean => INTEGER.test(type.toUpperCase());

/** Kinds whose values are classes: top-k, domains, L-infinity drift. */
export const isCategorical = (k: Kind): boolean => k === 'string' || k === 'boolean';

/** The user's columns of a version (system columns `_id`, `_source` left out). */
export function userColumns(m: Manifest): Column[] {
  return m.schema.filter((c) => !SYSTEM_COLUMNS.includes(c.name as never));
}

/** Finds a column or fails naming the version and the columns it has. */
export function requireColumn(m: Manifest, name: string, role: string): Column {
  const col = m.schema.find((c) => c.name === name);
  if (!col) {
    throw new InputError(`${role} column ${JSON.stringify(name)} is not in ${m.dataset}@${m.version}`, {
      hint: `columns: ${userColumns(m).map((c) => c.name).join(', ')}`,
    });
  }
  return col;
}

/** A label must hold classes: strings, booleans or integers. */
export function requireLabel(m: Manifest, name: string): Column {
  const col = requireColumn(m, name, 'label');
  if (!(isCategorical(kindOf(col.type)) || isInteger(col.type))) {
    throw new InputError(`label column ${JSON.stringify(name)} has type ${col.type}, which cannot hold classes`, {
      hint: 'use a VARCHAR, BOOLEAN or integer column as the label (bucket a continuous target first)',
    });
  }
  return col;
}

/** Fails on a version with no rows: statistics of nothing mean nothing. */
export function requireRows(m: Manifest): void {
  if (m.rows === 0) throw new InputError(`${m.dataset}@${m.version} has no rows`, { hint: 'pick a version with data (`sluice show <name>` lists versions)' });
}
