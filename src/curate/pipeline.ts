// The curate pipeline definition: sources (files or a PostgreSQL query) mapped into one target
// schema. Written in YAML and validated with zod, or built as a typed object in TypeScript.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { loadYaml } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';

import { FIELD_TYPES } from './field-types.ts';
import { RuleSchema, checkRules } from './rules.ts';
import { DedupeSchema } from './dedupe.ts';
import { ConflictsSchema } from './conflicts.ts';
import { JoinSchema, checkJoins } from './joins.ts';
export { FIELD_TYPES, type FieldType } from './field-types.ts';

export const TargetFieldSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a field name: letters, digits, _'),
    type: z.enum(FIELD_TYPES),
    nullable: z.boolean().default(true),
    description: z.string().optional(),
  })
  .strict();
export type TargetField = z.infer<typeof TargetFieldSchema>;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** How one target field is filled from a source. */
export const FieldMapSchema = z
  .object({
    /** source column (CSV header, JSON key or dotted path, Parquet column); default: the target name */
    from: z.string().optional(),
    /** a DuckDB SQL expression over the already mapped target fields (derived fields) */
    sql: z.string().optional(),
    /** date/timestamp formats tried in order (strptime), or `epoch_s` / `epoch_ms` */
    formats: z.array(z.string()).min(1).optional(),
    /** numbers: thousands separator and decimal mark, e.g. { thousands: '.', decimal: ',' } */
    number: z.object({ thousands: z.string().max(1).default(','), decimal: z.string().length(1).default('.') }).strict().optional(),
    /** value map for enums, matched after trimming and case folding */
    values: z.record(z.string(), scalar).optional(),
    /** what to do with a value missing from `values`: reject (quarantine), keep, or null */
    unknown: z.enum(['reject', 'keep', 'null']).default('reject'),
    /** used when the source value is null or empty */
    default: scalar.optional(),
    /** unit conversion: value × scale + offset */
    scale: z.number().optional(),
    offset: z.number().optional(),
    /** allow NaN and ±Infinity in float fields */
    allow_nonfinite: z.boolean().default(false),
  })
  .strict()
  .refine((m) => !(m.sql && m.from), { message: 'give either `from` or `sql`, not both' });
export type FieldMap = z.infer<typeof FieldMapSchema>;

export const LicenceTermsSchema = z
  .object({
    owner: z.string(),
    licence: z.string(),
    expires: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').optional(),
    uses: z.array(z.string()).optional(),
  })
  .strict();

export const SourceSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'a source name: letters, digits, _ . -'),
    /** file path or glob, relative to the pipeline file */
    files: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    format: z.enum(['csv', 'tsv', 'jsonl', 'json', 'parquet', 'arrow']).optional(),
    /** a PostgreSQL query; the URL comes from `postgres` or SLUICE_SOURCE_PG */
    query: z.string().optional(),
    postgres: z.string().optional(),
    /** higher wins in conflicts (used by the cleaning stage) */
    priority: z.number().int().default(0),
    licence: LicenceTermsSchema.optional(),
    map: z.record(z.string(), z.union([FieldMapSchema, z.string()])).default({}),
  })
  .strict()
  .refine((s) => Boolean(s.files) !== Boolean(s.query), { message: 'give either `files` or `query`' });
export type Source = z.infer<typeof SourceSchema>;

export const PipelineSchema = z
  .object({
    /** the dataset this pipeline commits versions of */
    target: z.string(),
    description: z.string().optional(),
    schema: z.array(TargetFieldSchema).min(1),
    sources: z.array(SourceSchema).min(1),
    /** validation rules over the mapped fields (quarantine, review or warn) */
    rules: z.array(RuleSchema).default([]),
    /** drop duplicate records (exact, or by key with a keep policy), across files and runs */
    dedupe: DedupeSchema.optional(),
    /** merge records of different sources that share an entity key, field by field */
    conflicts: ConflictsSchema.optional(),
    /** point-in-time joins with feature or attribute datasets */
    joins: z.array(JoinSchema).default([]),
    options: z
      .object({
        max_record_bytes: z.number().int().positive().default(8 << 20),
        /** DuckDB memory limit while ingesting (it spills to disk past it), e.g. "1GB" */
        memory_limit: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 1GB').default('1GB'),
      })
      .strict()
      .default({ max_record_bytes: 8 << 20, memory_limit: '1GB' }),
  })
  .strict();
export type Pipeline = z.infer<typeof PipelineSchema>;
export type PipelineInput = z.input<typeof PipelineSchema>;

/** Normalizes `map` entries (`field: column` shorthand) and checks references. */
export function checkPipeline(p: Pipeline, where: string): Pipeline {
  const names = new Set<string>();
  for (const f of p.schema) {
    if (names.has(f.name)) throw new ConfigError(`${where}: schema: field ${f.name} appears twice`);
    names.add(f.name);
  }
  const sourceNames = new Set<string>();
  for (const [i, s] of p.sources.entries()) {
    if (sourceNames.has(s.name)) throw new ConfigError(`${where}: sources.${i}.name: ${s.name} is used twice`, { hint: 'give each source its own name' });
    sourceNames.add(s.name);
    for (const key of Object.keys(s.map)) {
      if (!names.has(key)) {
        throw new ConfigError(`${where}: sources.${i}.map.${key}: not a field of the target schema`, { hint: `fields: ${[...names].join(', ')}` });
      }
    }
  }
  checkRules(p, p.rules, where);
  checkJoins(p, where);
  if (p.conflicts && p.dedupe?.key && p.dedupe.key.join(',') !== p.conflicts.key.join(',')) {
    throw new ConfigError(`${where}: dedupe.key (${p.dedupe.key.join(', ')}) must equal conflicts.key (${p.conflicts.key.join(', ')})`, { hint: 'omit dedupe.key: duplicates are then looked for within each source on the conflict key' });
  }
  for (const f of [...(p.dedupe?.key ?? []), ...(p.dedupe?.by ? [p.dedupe.by] : []), ...(p.conflicts?.key ?? []), ...Object.keys(p.conflicts?.fields ?? {}), ...(p.conflicts?.by ? [p.conflicts.by] : [])]) {
    if (!names.has(f)) throw new ConfigError(`${where}: dedupe: ${f} is not a field of the target schema`, { hint: `fields: ${[...names].join(', ')}` });
  }
  return p;
}

export function fieldMap(s: Source, field: string): FieldMap {
  const m = s.map[field];
  if (m === undefined) return FieldMapSchema.parse({ from: field });
  return typeof m === 'string' ? FieldMapSchema.parse({ from: m }) : m;
}

/** Loads a pipeline YAML; relative file paths resolve against the pipeline's folder. */
export function loadPipeline(path: string): { pipeline: Pipeline; baseDir: string } {
  const file = resolve(path);
  const pipeline = checkPipeline(loadYaml(file, PipelineSchema), file);
  return { pipeline, baseDir: dirname(file) };
}

/** Validates a pipeline given as an object (the TypeScript API). */
export function definePipeline(input: PipelineInput): Pipeline {
  const r = PipelineSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ConfigError(`pipeline: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  return checkPipeline(r.data, 'pipeline');
}
