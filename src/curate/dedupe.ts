// Duplicates: exact (a hash of the mapped fields) or by key, with a keep policy (first seen, latest
// by a field, highest source priority). Runs as the curate plan's shuffle and reduce, so a key's
// rows meet in one reduce task whatever file or run they came from; every dropped row records the
// `_id` it duplicates.
import { z } from 'zod';
import type { FileEntry, Manifest, Part } from '../core/manifest.ts';
import { describeFile, partSql, scanSql } from '../core/dataset.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import { readShuffle, writeShuffle } from '../engine/shuffle.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { Pipeline } from './pipeline.ts';
import { mergeConflicts } from './conflicts.ts';
import type { Rule } from './rules.ts';
import { uniqueIdSql, uniqueKeysSql } from './unique.ts';

export const DedupeSchema = z
  .object({
    /** key fields; omit for exact duplicates (all mapped fields equal) */
    key: z.array(z.string()).min(1).optional(),
    keep: z.enum(['first', 'latest', 'priority']).default('first'),
    /** for keep: latest — the field whose largest value wins */
    by: z.string().optional(),
    partitions: z.number().int().min(1).max(256).default(4),
  })
  .strict()
  .refine((d) => d.keep !== 'latest' || Boolean(d.by), { message: 'keep: latest needs `by: <field>`' });
export type Dedupe = z.infer<typeof DedupeSchema>;

/**
 * The grouping the reduce step uses: the dedupe config, or — when only conflicts are configured —
 * "first seen" within each source on the conflict key. Null when the plan needs no shuffle.
 */
export function groupingOf(p: Pipeline): Dedupe | null {
  const unique = p.rules.find((r) => r.unique);
  // Every reduce task of a unique rule reads all the parts' key columns (there are no shuffle
  // files), so more partitions only repeat that read: one (bench: reduce 0.45 s, 0.8 CPU-s; two
  // 0.65 s, 1.2; four 0.9 s, 1.6). DuckDB parallelizes inside the task and spills past its memory.
  if (unique) return { keep: 'first', partitions: 1, key: unique.unique! };
  if (p.conflicts) return { keep: 'first', partitions: 4, ...(p.dedupe ?? {}), key: p.conflicts.key };
  return p.dedupe ?? null;
}

/** The SQL of a row's duplicate key over the mapped fields. */
export function dedupeKey(p: Pipeline, d: Dedupe): string {
  const fields = d.key ?? p.schema.map((f) => f.name);
  return `md5(to_json([${fields.map((f) => `CAST(${ident(f)} AS VARCHAR)`).join(', ')}]))`;
}

/** Hidden ordering columns every shuffled row carries: source priority, then seen order. */
export function orderColumns(priority: number, sourceIndex: number): string {
  return `${priority} AS __priority, ${sourceIndex} AS __src, _source.file AS __file, _source.record AS __recno`;
}

/** Map side: the accepted rows of a part, hash-partitioned by their duplicate key. */
export async function shuffleAccepted(
  duck: DuckSession,
  dataDir: string,
  outDir: string,
  p: Pipeline,
  d: Dedupe,
  part: Part,
  priority: number,
  sourceIndex: number,
): Promise<Record<string, FileEntry[]>> {
  const unique = p.rules.find((r) => r.unique);
  // A unique rule needs only the key and identity of each row (see unique.ts), and those the part
  // already holds, by column: every reduce task reads the part's key columns and keeps its hash
  // range (reading two columns of a Parquet file again cost less than writing them out per
  // partition). Dedupe moves whole rows.
  if (unique) return Object.fromEntries(Array.from({ length: d.partitions }, (_, i) => [String(i), [part]]));
  const sql = `SELECT *, ${dedupeKey(p, d)} AS __dkey, ${orderColumns(priority, sourceIndex)}, 1 AS __run FROM (${partSql(dataDir, part)})`;
  return writeShuffle(duck, dataDir, outDir, sql, ['__dkey'], d.partitions);
}

/** A reduce task's outcome when it has no rows to decide (or a warn rule, which moves none). */
const NO_OUTCOME = { part: null, duplicates: null, review: null, reviewRecords: 0, quarantine: null, quarantineRecords: 0, dropped: 0, superseded: 0 };

/** Reduce side: one row per key; the others go to the duplicates file with the winner's `_id`. */
export async function reduceDuplicates(
  duck: DuckSession,
  dataDir: string,
  outDir: string,
  p: Pipeline,
  d: Dedupe,
  partition: number,
  inputs: FileEntry[],
  head: Manifest | null,
): Promise<{
  part: FileEntry | null;
  duplicates: FileEntry | null;
  review: FileEntry | null;
  reviewRecords: number;
  quarantine: FileEntry | null;
  quarantineRecords: number;
  dropped: number;
  superseded: number;
}> {
  const unique = p.rules.find((r) => r.unique);
  if (unique) return uniqueOutcome(duck, dataDir, outDir, unique, d, partition, inputs, head);
  const sources: string[] = [];
  if (inputs.length) sources.push(`SELECT * FROM ${readShuffle(dataDir, inputs)}`);
  // Rows already in the dataset take part too (run 0: they were seen first).
  if (head && head.parts.length) {
    const ord = `0 AS __priority, -1 AS __src, _source.file AS __file, _source.record AS __recno, `;
    sources.push(`SELECT * FROM (SELECT *, ${dedupeKey(p, d)} AS __dkey, ${ord}0 AS __run FROM (${scanSql(dataDir, head)})) WHERE hash(__dkey) % ${d.partitions} = ${partition}`);
  }
  if (!sources.length) return NO_OUTCOME;
  const all = sources.join(' UNION ALL BY NAME ');
  const t = `dedupe_${outDir.replace(/[^A-Za-z0-9]/g, '_').slice(-40)}`;
  // With conflicts, duplicates are looked for within each source; sources are merged afterwards.
  const within = p.conflicts ? '__dkey, _source.source' : '__dkey';
  const order =
    d.keep === 'latest'
      ? `${ident(d.by!)} DESC NULLS LAST, __run, __src, __file, __recno`
      : d.keep === 'priority'
        ? `__priority DESC, __run, __src, __file, __recno`
        : `__run, __src, __file, __recno`;
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(t)} AS SELECT *, row_number() OVER w AS __rn, first_value(_id) OVER w AS __winner, count(*) OVER (PARTITION BY __dkey) AS __n ` +
      `FROM (${all}) WINDOW w AS (PARTITION BY ${within} ORDER BY ${order})`,
  );
  const hidden = ['__dkey', '__priority', '__src', '__file', '__recno', '__run', '__rn', '__winner', '__n'];
  let part: FileEntry;
  let review: FileEntry | null = null;
  let reviewRecords = 0;
  if (p.conflicts) {
    // rows already in the dataset carry the previous merge's _winners; the merge recomputes it
    const exclude = head?.schema.some((c) => c.name === '_winners') ? ' EXCLUDE (_winners)' : '';
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(`${t}_s`)} AS SELECT *${exclude} FROM ${ident(t)} WHERE __rn = 1`);
    const merged = await mergeConflicts(duck, dataDir, outDir, p, p.conflicts, `${t}_s`);
    await duck.run(`DROP TABLE ${ident(`${t}_s`)}`);
    part = merged.part;
    review = merged.review;
    reviewRecords = merged.reviewRecords;
  } else {
    const partRel = `${outDir}/part-0.parquet`;
    await duck.run(`COPY (SELECT * EXCLUDE (${hidden.join(', ')}) FROM ${ident(t)} WHERE __rn = 1 ORDER BY _id) TO ${lit(safeJoin(dataDir, partRel))} (${parquetWriterOptions()})`);
    part = await describeFile(duck, dataDir, partRel);
  }
  const dupRel = `${outDir}/duplicates-0.parquet`;
  await duck.run(
    `COPY (SELECT _id, __winner AS duplicate_of, _source.source AS source, _source.file AS file, _source.record AS record, _source.line AS line, __run = 0 AS superseded ` +
      `FROM ${ident(t)} WHERE __rn > 1 ORDER BY _id) TO ${lit(safeJoin(dataDir, dupRel))} (${parquetWriterOptions()})`,
  );
  const [{ dropped, superseded }] = (await duck.all<{ dropped: number; superseded: number }>(
    `SELECT count(*) FILTER (WHERE __run = 1)::BIGINT AS dropped, count(*) FILTER (WHERE __run = 0)::BIGINT AS superseded FROM ${ident(t)} WHERE __rn > 1`,
  )) as [{ dropped: number; superseded: number }];
  await duck.run(`DROP TABLE ${ident(t)}`);
  return {
    part,
    review,
    reviewRecords,
    quarantine: null,
    quarantineRecords: 0,
    duplicates: await describeFile(duck, dataDir, dupRel),
    dropped: Number(dropped),
    superseded: Number(superseded),
  };
}

/**
 * A unique rule, reduce side: every row whose key repeats (in this run or against the rows already
 * in the dataset) breaks it. The repeated keys are found from the key columns (a GROUP BY, no
 * sort); the `_id`s of the rows that hold them go to one small file, in the slot of the rule's
 * action, and the commit (unique.ts) takes them out of their parts. A warn rule moves nothing.
 */
async function uniqueOutcome(duck: DuckSession, dataDir: string, outDir: string, rule: Rule, d: Dedupe, partition: number, inputs: FileEntry[], head: Manifest | null) {
  if (rule.action === 'warn') return NO_OUTCOME;
  const key = rule.unique!.map(ident);
  // the map tasks' parts (this run) and the parts already in the dataset (run 0)
  const rows = [...(inputs as Part[]).map((part) => `SELECT *, 1 AS __run FROM (${uniqueKeysSql(dataDir, part, rule)})`), ...(head?.parts ?? []).map((part) => `SELECT *, 0 AS __run FROM (${uniqueKeysSql(dataDir, part, rule)})`)];
  if (!rows.length) return NO_OUTCOME;
  const t = `dedupe_${outDir.replace(/[^A-Za-z0-9]/g, '_').slice(-40)}`;
  const cand = ident(`${t}_c`);
  const keys = ident(`${t}_k`);
  const range = d.partitions > 1 ? ` WHERE __h % ${d.partitions} = ${partition}` : '';
  const hashed = `SELECT * FROM (SELECT *, hash(${key.join(', ')}) AS __h FROM (${rows.join(' UNION ALL BY NAME ')}))${range}`;
  // Rows whose key hash repeats first (a GROUP BY on one integer), then the keys themselves among
  // them: equal keys have equal hashes, so no repeated key is missed, and a hash collision is not
  // taken for one. The parts are read twice rather than copied to a table (bench: 0.45 s vs 0.7 s).
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${cand} AS SELECT * FROM (${hashed}) WHERE __h IN (SELECT __h FROM (${hashed}) GROUP BY __h HAVING count(*) > 1)`);
  const same = key.map((k) => `a.${k} IS NOT DISTINCT FROM k.${k}`).join(' AND ');
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${keys} AS SELECT ${key.join(', ')} FROM ${cand} GROUP BY ALL HAVING count(*) > 1`);
  const rel = `${outDir}/broken-0.parquet`;
  await duck.run(
    `COPY (SELECT ${uniqueIdSql('a')} AS _id, a.__run, a.__p, a.__rec FROM ${cand} a SEMI JOIN ${keys} k ON ${same} ORDER BY _id) TO ${lit(safeJoin(dataDir, rel))} (${parquetWriterOptions()})`,
  );
  await duck.run(`DROP TABLE ${keys}; DROP TABLE ${cand}`);
  const [{ fresh, old }] = (await duck.all<{ fresh: number; old: number }>(
    `SELECT count(*) FILTER (WHERE __run = 1)::BIGINT AS fresh, count(*) FILTER (WHERE __run = 0)::BIGINT AS old FROM read_parquet(${lit(safeJoin(dataDir, rel))})`,
  )) as [{ fresh: number; old: number }];
  const broken = await describeFile(duck, dataDir, rel);
  return rule.action === 'quarantine'
    ? { ...NO_OUTCOME, quarantine: broken, quarantineRecords: Number(fresh), superseded: Number(old) }
    : { ...NO_OUTCOME, review: broken, reviewRecords: Number(fresh), superseded: Number(old) };
}

export const DUPLICATES_SCHEMA = [
  { name: '_id', type: 'VARCHAR', nullable: false },
  { name: 'duplicate_of', type: 'VARCHAR', nullable: false },
  { name: 'source', type: 'VARCHAR', nullable: true },
  { name: 'file', type: 'VARCHAR', nullable: true },
  { name: 'record', type: 'BIGINT', nullable: true },
  { name: 'line', type: 'BIGINT', nullable: true },
  { name: 'superseded', type: 'BOOLEAN', nullable: false },
];
