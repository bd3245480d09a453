// Schema inference and validation, as TFDV does: types, presence, domains and ranges inferred from
// a version's stats; anomalies (missing or new columns, type changes, presence, new values,
// out-of-range values) found in another version.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { scanSql } from '../core/dataset.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { isCategorical, kindOf, requireRows, userColumns } from './columns.ts';
import type { DatasetStats } from './stats.ts';

export const FeatureSchema = z.object({
  name: z.string(),
  type: z.string(),
  presence: z.object({ minFraction: z.number().min(0).max(1), required: z.boolean() }),
  domain: z.array(z.string()).optional(),
  range: z.object({ min: z.number(), max: z.number() }).optional(),
});
export const SchemaFile = z.object({ format: z.literal('sluice-schema/1'), source: z.string(), features: z.array(FeatureSchema) });
export type Schema = z.infer<typeof SchemaFile>;

export type AnomalyKind = 'MISSING_COLUMN' | 'NEW_COLUMN' | 'TYPE_CHANGE' | 'PRESENCE' | 'NEW_VALUES' | 'OUT_OF_RANGE';
export interface Anomaly {
  column: string;
  kind: AnomalyKind;
  message: string;
  /** rows affected, where countable */
  rows?: number;
  values?: string[];
}

/** A schema from a version's stats: every column required if it was never missing. */
export function inferSchema(stats: DatasetStats): Schema {
  return {
    format: 'sluice-schema/1',
    source: stats.ref,
    features: stats.columns.map((c) => ({
      name: c.name,
      type: c.type,
      presence: { minFraction: stats.rows ? c.count / stats.rows : 0, required: c.missing === 0 },
      ...(isCategorical(c.kind) && c.values ? { domain: Object.keys(c.values).sort() } : {}),
      ...(c.kind === 'number' && typeof c.min === 'number' && typeof c.max === 'number' ? { range: { min: c.min, max: c.max } } : {}),
    })),
  };
}

export function readSchema(path: string): Schema {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read schema ${path}: ${(e as Error).message}`, { cause: e, hint: 'write one with `sluice schema infer <ref> --out schema.json`' });
  }
  const r = SchemaFile.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ConfigError(`schema ${path}: ${i.path.join('.') || '(root)'}: ${i.message}`, { hint: 'write one with `sluice schema infer <ref> --out schema.json`' });
  }
  return r.data;
}

/** Anomalies of version `m` against `schema`. */
export async function validateSchema(project: Project, m: Manifest, schema: Schema): Promise<Anomaly[]> {
  requireRows(m);
  const duck = await project.duck();
  const rel = scanSql(project.dataDir, m);
  const cols = new Map(userColumns(m).map((c) => [c.name, c]));
  const out: Anomaly[] = [];
  for (const f of schema.features) {
    const col = cols.get(f.name);
    if (!col) {
      out.push({ column: f.name, kind: 'MISSING_COLUMN', message: `column ${f.name} (${f.type}) is not in ${m.dataset}@${m.version}` });
      continue;
    }
    if (col.type !== f.type) {
      out.push({ column: f.name, kind: 'TYPE_CHANGE', message: `column ${f.name} is ${col.type}, the schema expects ${f.type}` });
      if (kindOf(col.type) !== kindOf(f.type)) continue;
    }
    const x = ident(f.name);
    const r = await duck.one<{ present: number; low: number | null; high: number | null }>(
      `SELECT count(${x})::DOUBLE AS present` +
        (f.range ? `, count_if(${x} < ${f.range.min})::DOUBLE AS low, count_if(${x} > ${f.range.max})::DOUBLE AS high` : '') +
        ` FROM (${rel})`,
    );
    const missing = m.rows - r.present;
    if ((f.presence.required && missing > 0) || r.present / m.rows < f.presence.minFraction - 1e-12) {
      out.push({
        column: f.name,
        kind: 'PRESENCE',
        rows: missing,
        message: `column ${f.name} is missing in ${missing} of ${m.rows} rows; the schema expects ${f.presence.required ? 'it in every row' : `at least ${(f.presence.minFraction * 100).toFixed(1)}% present`}`,
      });
    }
    const outside = Number(r.low ?? 0) + Number(r.high ?? 0);
    if (f.range && outside > 0) {
      out.push({ column: f.name, kind: 'OUT_OF_RANGE', rows: outside, message: `column ${f.name} has ${outside} value(s) outside [${f.range.min}, ${f.range.max}]` });
    }
    if (f.domain) {
      const news = await duck.all<{ v: string; n: number }>(
        `SELECT ${x}::VARCHAR AS v, count(*)::DOUBLE AS n FROM (${rel}) WHERE ${x} IS NOT NULL AND ${x}::VARCHAR NOT IN (${f.domain.map(lit).join(', ') || 'NULL'}) GROUP BY 1 ORDER BY n DESC, v`,
      );
      if (news.length) {
        const rows = news.reduce((s, n) => s + Number(n.n), 0);
        const shown = news.slice(0, 10).map((n) => n.v);
        out.push({
          column: f.name,
          kind: 'NEW_VALUES',
          rows,
          values: shown,
          message: `column ${f.name} has ${news.length} value(s) not in its domain (${rows} rows): ${shown.map((v) => JSON.stringify(v)).join(', ')}${news.length > 10 ? ', …' : ''}`,
        });
      }
    }
  }
  const known = new Set(schema.features.map((f) => f.name));
  for (const c of cols.values()) {
    if (!known.has(c.name)) out.push({ column: c.name, kind: 'NEW_COLUMN', message: `column ${c.name} (${c.type}) is not in the schema` });
  }
  return out;
}
