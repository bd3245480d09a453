// Point-in-time joins: each event takes a feature or attribute dataset's values as they were at the
// event's time (DuckDB ASOF JOIN), so a training example never sees a value from its future.
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { scanSql } from '../core/dataset.ts';
import { parseRef } from '../core/ref.ts';
import type { Catalog } from '../store/catalog.ts';
import { ident, type DuckSession } from '../engine/duckdb.ts';
import { DUCK_TYPES } from './field-types.ts';
import type { Pipeline } from './pipeline.ts';

export const JoinSchema = z
  .object({
    /** the dataset to join, e.g. `user-features@latest` (resolved when the task runs) */
    dataset: z.string(),
    /** equality keys: target field = dataset column of the same name, or { field: column } */
    on: z.union([z.array(z.string()).min(1), z.record(z.string(), z.string())]),
    /** the event's time field in the target schema */
    time: z.string(),
    /** the dataset's column saying from when a value holds */
    as_of: z.string(),
    /** target field ← dataset column */
    columns: z.record(z.string(), z.string()),
  })
  .strict();
export type Join = z.infer<typeof JoinSchema>;

const table = (i: number) => `__pit_${i}`;

function keys(j: Join): [string, string][] {
  return Array.isArray(j.on) ? j.on.map((k) => [k, k]) : Object.entries(j.on);
}

/** The target fields that joins fill (the mapping leaves them to the join). */
export function joinedFields(p: Pipeline): Set<string> {
  return new Set(p.joins.flatMap((j) => Object.keys(j.columns)));
}

export function checkJoins(p: Pipeline, where: string): void {
  const names = new Set(p.schema.map((f) => f.name));
  for (const [i, j] of p.joins.entries()) {
    for (const f of [...keys(j).map(([f]) => f), j.time, ...Object.keys(j.columns)]) {
      if (!names.has(f)) throw new ConfigError(`${where}: joins.${i}: ${f} is not a field of the target schema`, { hint: `fields: ${[...names].join(', ')}` });
    }
  }
}

/** Loads each joined dataset's keys, times and columns into a temp table. */
export async function loadJoinTables(duck: DuckSession, catalog: Catalog, dataDir: string, p: Pipeline): Promise<void> {
  for (const [i, j] of p.joins.entries()) {
    const m = await catalog.resolve(parseRef(j.dataset));
    const cols = [...new Set([...keys(j).map(([, c]) => c), j.as_of, ...Object.values(j.columns)])];
    for (const c of cols) {
      if (!m.schema.some((s) => s.name === c)) throw new ConfigError(`joins.${i}: ${m.dataset}@${m.version} has no column ${c}`, { hint: `columns: ${m.schema.map((s) => s.name).join(', ')}` });
    }
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(table(i))} AS SELECT ${cols.map(ident).join(', ')} FROM (${scanSql(dataDir, m)})`);
  }
}

/** Wraps `sql` (rows with the typed target fields) in one ASOF LEFT JOIN per join. */
export function applyJoins(p: Pipeline, sql: string): string {
  const types = new Map(p.schema.map((f) => [f.name, DUCK_TYPES[f.type]]));
  let out = sql;
  for (const [i, j] of p.joins.entries()) {
    const t = ident(table(i));
    const on = keys(j).map(([f, c]) => `e.${ident(f)} = ${t}.${ident(c)}`);
    const replace = Object.entries(j.columns).map(([f, c]) => `CAST(${t}.${ident(c)} AS ${types.get(f)}) AS ${ident(f)}`);
    out = `SELECT e.* REPLACE (${replace.join(', ')}) FROM (${out}) e ASOF LEFT JOIN ${t} ON ${[...on, `e.${ident(j.time)} >= ${t}.${ident(j.as_of)}`].join(' AND ')}`;
  }
  return out;
}
