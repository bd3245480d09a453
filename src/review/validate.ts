// Checks an edited record before it is accepted: every field known to the dataset's schema, the
// value's type and nullability, then the item's rules evaluated by DuckDB over the record.
import { InputError } from '../core/errors.ts';
import type { Column } from '../core/manifest.ts';
import { SYSTEM_COLUMNS } from '../core/dataset.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import type { ReviewRule } from './types.ts';

const INT = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/i;
const FLOAT = /^(FLOAT|REAL|DOUBLE|DECIMAL.*|NUMERIC.*)$/i;

/** Why `value` does not fit `type`, or null when it does. */
function typeProblem(value: unknown, type: string): string | null {
  const t = type.trim().toUpperCase();
  if (INT.test(t)) return typeof value === 'number' && Number.isInteger(value) ? null : 'a whole number';
  if (FLOAT.test(t)) return typeof value === 'number' && Number.isFinite(value) ? null : 'a number';
  if (t === 'BOOLEAN' || t === 'BOOL') return typeof value === 'boolean' ? null : 'true or false';
  if (t === 'VARCHAR' || t === 'TEXT' || t === 'STRING') return typeof value === 'string' ? null : 'text';
  if (t === 'DATE') return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? null : 'a date YYYY-MM-DD';
  if (t.startsWith('TIMESTAMP')) return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? null : 'a timestamp';
  if (t.startsWith('STRUCT') || t.startsWith('MAP')) return value && typeof value === 'object' && !Array.isArray(value) ? null : 'an object';
  if (t.endsWith('[]') || t.startsWith('LIST')) return Array.isArray(value) ? null : 'a list';
  return null; // other types: DuckDB's cast in the rule check and in apply decides
}

/** A record value as a DuckDB expression of the column's type. */
function valueSql(value: unknown, type: string): string {
  if (value === null || value === undefined) return `NULL::${type}`;
  if (typeof value === 'object') return `CAST(json(${lit(JSON.stringify(value))}) AS ${type})`;
  return `CAST(${lit(String(value))} AS ${type})`;
}

/** The user columns of a schema (without `_id`, `_source`). */
export function userColumns(schema: Column[]): Column[] {
  return schema.filter((c) => !SYSTEM_COLUMNS.includes(c.name as never));
}

/**
 * Refuses a record that breaks the schema or a rule, with a message naming the field or the rule.
 * @example await validateRecord(duck, schema, { price: -1 }, [{ id: 'price>=0', check: 'price >= 0', message: 'price must not be negative' }])
 */
export async function validateRecord(duck: DuckSession, schema: Column[] | null, record: Record<string, unknown>, rules: ReviewRule[] = []): Promise<void> {
  const cols = schema ? userColumns(schema) : Object.keys(record).map((name) => ({ name, type: 'VARCHAR', nullable: true }));
  if (schema) {
    const known = new Set(cols.map((c) => c.name));
    for (const k of Object.keys(record)) {
      if (!known.has(k) && !SYSTEM_COLUMNS.includes(k as never)) throw new InputError(`field ${k} is not in the dataset's schema`, { hint: `fields: ${[...known].join(', ')}` });
    }
    for (const c of cols) {
      const v = record[c.name];
      if (v === null || v === undefined) {
        if (!c.nullable) throw new InputError(`field ${c.name} must not be empty (the schema says NOT NULL)`);
        continue;
      }
      const want = typeProblem(v, c.type);
      if (want) throw new InputError(`field ${c.name} must be ${want} (${c.type}), got ${JSON.stringify(v)}`);
    }
  }
  if (!rules.length) return;
  // Without a schema the record's own JSON types stand in for column types.
  const typed = schema ? cols : cols.map((c) => ({ ...c, type: jsonType(record[c.name]) }));
  const rel = `SELECT ${typed.length ? typed.map((c) => `${valueSql(record[c.name], c.type)} AS ${ident(c.name)}`).join(', ') : '1 AS _'}`;
  const checks = rules.map((r, i) => `(${r.check}) IS NOT FALSE AS r${i}`).join(', ');
  let row: Record<string, unknown>;
  try {
    row = await duck.one(`SELECT ${checks} FROM (${rel})`);
  } catch (e) {
    throw new InputError(`the edit could not be checked against the rules: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  rules.forEach((r, i) => {
    if (row[`r${i}`] !== true) throw new InputError(`rule ${r.id}: ${r.message}`, { hint: `the edited record fails \`${r.check}\`` });
  });
}

function jsonType(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? 'BIGINT' : 'DOUBLE';
  if (typeof v === 'boolean') return 'BOOLEAN';
  return 'VARCHAR';
}
