// Validation rules: each has an id, a message and an action (quarantine, review, warn), and is
// compiled to a DuckDB boolean over the typed fields, so every rule runs vectorized in one pass.
import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { DUCK_TYPES, FIELD_TYPES } from './field-types.ts';
import type { Pipeline } from './pipeline.ts';
import { sha256Text } from '../core/hash.ts';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** What a predicate receives: one array per target field, all of the batch's length. */
export type ColumnBatch = Record<string, unknown[]>;
/** Where a batch comes from, for the predicate and for error messages. */
export interface BatchInfo {
  source: string;
  file: string;
  /** 1-based number of the batch within the file */
  batch: number;
  rows: number;
}
/** A TypeScript rule: one truthy value per row that passes (false / 0 breaks the rule). */
export type PredicateFn = (batch: ColumnBatch, info: BatchInfo) => ArrayLike<unknown> | Promise<ArrayLike<unknown>>;

/**
 * `module:<file>#<export>` (the file relative to the pipeline file; works on every runner), or a
 * function (in-process only). A function serializes as `function:<hash of its source>`, so the run
 * id and config hash change when its code does, and a worker given one can say what is wrong.
 */
export const PredicateSchema = z.union([
  z.string().regex(/^module:.+#[A-Za-z_$][\w$]*$/, 'module:<file>#<export>, e.g. module:./rules/price.ts#checkPrice'),
  z.custom<PredicateFn>((v) => typeof v === 'function', 'a function (batch) => boolean[] | Uint8Array').transform((fn) =>
    'toJSON' in fn ? fn : Object.assign((b: ColumnBatch, i: BatchInfo) => fn(b, i), { toJSON: () => `function:${sha256Text(fn.toString()).slice(0, 16)}` }),
  ),
]);

export const RuleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'a rule id: letters, digits, _ . : -'),
    message: z.string().optional(),
    action: z.enum(['quarantine', 'review', 'warn']).default('quarantine'),
    /** review priority: higher is served first */
    severity: z.number().int().min(0).max(100).default(1),
    /** only for these sources (default: all) */
    sources: z.array(z.string()).optional(),
    not_null: z.string().optional(),
    type: z.object({ field: z.string(), type: z.enum(FIELD_TYPES) }).strict().optional(),
    range: z.object({ field: z.string(), min: z.number().optional(), max: z.number().optional() }).strict().optional(),
    regex: z.object({ field: z.string(), pattern: z.string() }).strict().optional(),
    enum: z.object({ field: z.string(), values: z.array(scalar).min(1) }).strict().optional(),
    /** a SQL expression over the target fields that must not be false */
    sql: z.string().optional(),
    /** the value must exist in another dataset: `dataset` is a ref, `column` defaults to the field */
    ref: z.object({ field: z.string(), dataset: z.string(), column: z.string().optional() }).strict().optional(),
    /** the fields' values must not repeat across the dataset (checked in the plan's reduce step) */
    unique: z.array(z.string()).min(1).optional(),
    /** a TypeScript predicate over a batch of columns: `module:<file>#<export>` or, in-process only, a function */
    predicate: PredicateSchema.optional(),
  })
  .strict()
  .refine((r) => ['not_null', 'type', 'range', 'regex', 'enum', 'sql', 'ref', 'unique', 'predicate'].filter((k) => r[k as keyof typeof r] !== undefined).length === 1, {
    message: 'give exactly one check: not_null, type, range, regex, enum, sql, ref, unique or predicate',
  });
export type Rule = z.infer<typeof RuleSchema>;

/** The table a `ref` rule reads its allowed values from (loaded once per task). */
export const refTable = (i: number) => `__ref_${i}`;

/** The fields a rule reads (what a reviewer should look at). */
export function ruleFields(r: Rule): string[] {
  if (r.unique) return r.unique;
  const f = r.not_null ?? r.type?.field ?? r.range?.field ?? r.regex?.field ?? r.enum?.field ?? r.ref?.field;
  return f ? [f] : [];
}

/** Checks rule fields against the target schema; throws ConfigError naming the rule. */
export function checkRules(p: Pipeline, rules: Rule[], where: string): void {
  const names = new Set(p.schema.map((f) => f.name));
  const ids = new Set<string>();
  for (const [i, r] of rules.entries()) {
    if (ids.has(r.id)) throw new ConfigError(`${where}: rules.${i}.id: ${r.id} is used twice`);
    ids.add(r.id);
    for (const u of r.unique ?? []) {
      if (!names.has(u)) throw new ConfigError(`${where}: rules.${i} (${r.id}): ${u} is not a field of the target schema`, { hint: `fields: ${[...names].join(', ')}` });
    }
    if (r.unique && (p.dedupe || p.conflicts)) {
      throw new ConfigError(`${where}: rules.${i} (${r.id}): a unique rule cannot be combined with dedupe or conflicts`, { hint: 'dedupe already keeps one row per key; drop one of them' });
    }
    if (r.unique && rules.filter((x) => x.unique).length > 1) throw new ConfigError(`${where}: rules.${i} (${r.id}): only one unique rule per pipeline`);
    const f = ruleFields(r)[0];
    if (f && !names.has(f)) throw new ConfigError(`${where}: rules.${i} (${r.id}): ${f} is not a field of the target schema`, { hint: `fields: ${[...names].join(', ')}` });
    for (const s of r.sources ?? []) {
      if (!p.sources.some((x) => x.name === s)) throw new ConfigError(`${where}: rules.${i} (${r.id}): no source named ${s}`);
    }
  }
}

/** SQL that is true when the row breaks the rule (NULLs break only not_null). */
export function violation(r: Rule, i: number): string {
  const f = (name: string) => ident(name);
  if (r.not_null) return `${f(r.not_null)} IS NULL`;
  if (r.type) return `${f(r.type.field)} IS NOT NULL AND TRY_CAST(${f(r.type.field)} AS ${DUCK_TYPES[r.type.type]}) IS NULL`;
  if (r.range) {
    const parts = [
      ...(r.range.min !== undefined ? [`${f(r.range.field)} < ${r.range.min}`] : []),
      ...(r.range.max !== undefined ? [`${f(r.range.field)} > ${r.range.max}`] : []),
    ];
    return parts.length ? `COALESCE(${parts.join(' OR ')}, false)` : 'false';
  }
  if (r.regex) return `COALESCE(NOT regexp_full_match(CAST(${f(r.regex.field)} AS VARCHAR), ${lit(r.regex.pattern)}), false)`;
  // list_contains, not NOT IN: DuckDB plans an IN list of six or more constants as a hash join
  if (r.enum) return `COALESCE(NOT list_contains([${r.enum.values.map((v) => lit(String(v))).join(', ')}], CAST(${f(r.enum.field)} AS VARCHAR)), false)`;
  if (r.sql) return `NOT COALESCE((${r.sql}), true)`;
  if (r.ref) return `${f(r.ref.field)} IS NOT NULL AND CAST(${f(r.ref.field)} AS VARCHAR) NOT IN (SELECT v FROM ${ident(refTable(i))})`;
  return 'false'; // unique and predicate: not SQL; the reduce step and predicate.ts apply them
}

export function describeRule(r: Rule): string {
  if (r.message) return r.message;
  if (r.not_null) return `${r.not_null} is required`;
  if (r.type) return `${r.type.field} must be a ${r.type.type}`;
  if (r.range) return `${r.range.field} must be${r.range.min !== undefined ? ` ≥ ${r.range.min}` : ''}${r.range.max !== undefined ? ` ≤ ${r.range.max}` : ''}`;
  if (r.regex) return `${r.regex.field} must match ${r.regex.pattern}`;
  if (r.enum) return `${r.enum.field} must be one of ${r.enum.values.join(', ')}`;
  if (r.sql) return `${r.sql} must hold`;
  if (r.ref) return `${r.ref.field} must exist in ${r.ref.dataset}`;
  if (r.unique) return `${r.unique.join(', ')} must be unique`;
  if (r.predicate) return `predicate ${typeof r.predicate === 'string' ? r.predicate.replace(/^module:.*\//, '') : 'function'} must hold`;
  return r.id;
}

export interface CompiledRules {
  /** SELECT list adding one boolean per rule (`__v_<i>`) over the typed fields */
  flags: string[];
  /** SQL of the quarantine message (NULL if no quarantine rule fired) */
  quarantine: string;
  /** SQL of the review message */
  review: string;
  /** SQL list of the ids of the rules that fired (any action), NULL when none did */
  fired: string;
  /** SQL of the highest severity among fired review rules */
  severity: string;
  /** some rule can fire in SQL for this source (otherwise every row's list of fired rules is empty) */
  any: boolean;
}

/** Compiles the rules that apply to `source` (others are constant false). */
export function compileRules(rules: Rule[], source: string): CompiledRules {
  const applies = rules.map((r) => !r.sources || r.sources.includes(source));
  const flags = rules.map((r, i) => `${applies[i] ? violation(r, i) : 'false'} AS ${ident(`__v_${i}`)}`);
  const v = (i: number) => ident(`__v_${i}`);
  const msg = (action: Rule['action']) => {
    const mine = rules.flatMap((r, i) => (r.action === action ? [i] : []));
    const parts = mine.map((i) => `CASE WHEN ${v(i)} THEN ${lit(`rule ${rules[i]!.id}: ${describeRule(rules[i]!)}`)} END`);
    // the message is built only for rows where one of these rules fired
    return parts.length ? `CASE WHEN ${mine.map(v).join(' OR ')} THEN NULLIF(concat_ws('; ', ${parts.join(', ')}), '') END` : 'NULL::VARCHAR';
  };
  // The list is built only for rows where some rule fired (a lambda per row cost every row); the
  // other rows get NULL, not an empty list, which Parquet writes for less (the bench's 1M-row part:
  // about 4% less CPU for the whole mapping COPY). concat_ws skips the rules that did not fire and
  // string_split makes the list: about 0.2 CPU-s less than list_filter's lambda over the bench's
  // 2M rows, a quarter of which a warn rule fires on. Rule ids cannot hold the separator chr(31).
  const fired = rules.length
    ? `CASE WHEN ${rules.map((_, i) => v(i)).join(' OR ')} THEN string_split(concat_ws(chr(31), ${rules.map((r, i) => `CASE WHEN ${v(i)} THEN ${lit(r.id)} END`).join(', ')}), chr(31)) END`
    : 'NULL::VARCHAR[]';
  const sev = rules.flatMap((r, i) => (r.action === 'review' ? [`CASE WHEN ${v(i)} THEN ${r.severity} ELSE 0 END`] : []));
  const any = rules.some((r, i) => applies[i] && violation(r, i) !== 'false');
  return { flags, quarantine: msg('quarantine'), review: msg('review'), fired, severity: sev.length ? `greatest(${sev.join(', ')})` : '0', any };
}
