// Conflicting sources: records from different sources with the same entity key are merged into one
// row, field by field — the highest-priority source, the most recent value, the majority, or a
// person (review, with every source's value). The winning source of each field is recorded.
import { z } from 'zod';
import type { FileEntry } from '../core/manifest.ts';
import { describeFile } from '../core/dataset.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { Pipeline } from './pipeline.ts';

const Policy = z.enum(['priority', 'latest', 'majority', 'review']);
export const ConflictsSchema = z
  .object({
    /** the entity key shared by the sources */
    key: z.array(z.string()).min(1),
    /** per-field policy; fields not listed use `default` */
    fields: z.record(z.string(), Policy).default({}),
    default: Policy.default('priority'),
    /** for `latest`: the field whose largest value wins */
    by: z.string().optional(),
    /** review priority of a conflict item */
    severity: z.number().int().min(0).max(100).default(1),
  })
  .strict();
export type Conflicts = z.infer<typeof ConflictsSchema>;

const SEEN = '__run, __src, __file, __recno';

function policyOrder(policy: z.infer<typeof Policy>, field: string, c: Conflicts): string {
  const f = ident(field);
  const nullsLast = `${f} IS NULL`;
  if (policy === 'latest') return `${nullsLast}, ${ident(c.by ?? field)} DESC NULLS LAST, __priority DESC, ${SEEN}`;
  if (policy === 'majority') return `${nullsLast}, ${ident(`__cnt_${field}`)} DESC, __priority DESC, ${SEEN}`;
  return `${nullsLast}, __priority DESC, ${SEEN}`;
}

/**
 * Merges the rows of table `survivors` (one per key and source, with the hidden ordering columns)
 * into entities. Writes the merged rows to `outDir/part-0.parquet` and the conflicts a person must
 * settle to `outDir/review-0.parquet`; returns both and how many records went to review.
 */
export async function mergeConflicts(
  duck: DuckSession,
  dataDir: string,
  outDir: string,
  p: Pipeline,
  c: Conflicts,
  survivors: string,
): Promise<{ part: FileEntry; review: FileEntry; reviewRecords: number }> {
  const fields = p.schema.map((f) => f.name);
  const policy = (f: string) => c.fields[f] ?? c.default;
  const counts = fields.filter((f) => policy(f) === 'majority').map((f) => `count(*) OVER (PARTITION BY __dkey, ${ident(f)}) AS ${ident(`__cnt_${f}`)}`);
  const base = `SELECT *${counts.length ? ', ' + counts.join(', ') : ''} FROM ${ident(survivors)}`;
  const resolved = fields.map((f) => `first(${ident(f)} ORDER BY ${policyOrder(policy(f), f, c)}) AS ${ident(f)}`);
  const winners = fields.map((f) => `${lit(f)}: first(_source.source ORDER BY ${policyOrder(policy(f), f, c)})`);
  const reviewFields = fields.filter((f) => policy(f) === 'review');
  const conflict = reviewFields.length ? reviewFields.map((f) => `count(DISTINCT ${ident(f)}) > 1`).join(' OR ') : 'false';
  const differing = reviewFields.map((f) => `CASE WHEN count(DISTINCT ${ident(f)}) > 1 THEN ${lit(f)} END`);
  const t = `${survivors}_merged`;
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(t)} AS SELECT __dkey, count(*) AS __n, ` +
      `first(_id ORDER BY __priority DESC, ${SEEN}) AS __first_id, first(_source ORDER BY __priority DESC, ${SEEN}) AS _source, ` +
      `${resolved.join(', ')}, to_json({${winners.join(', ')}})::VARCHAR AS __winners, (${conflict}) AS __conflict, ` +
      `${differing.length ? `list_filter([${differing.join(', ')}], x -> x IS NOT NULL)` : '[]::VARCHAR[]'} AS __differing, ` +
      `to_json(list({'source': _source.source, '_id': _id, 'record': {${fields.map((f) => `${lit(f)}: ${ident(f)}`).join(', ')}}} ORDER BY __priority DESC, ${SEEN}))::VARCHAR AS __variants, ` +
      `list(_source.source || chr(31) || _id ORDER BY __priority DESC, ${SEEN}) AS __members ` +
      `FROM (${base}) GROUP BY __dkey`,
  );
  // A key seen in one source keeps its own _id; a merged entity gets an _id from its key.
  const id = `CASE WHEN __n = 1 THEN __first_id ELSE 'entity:' || left(__dkey, 16) END`;
  const partRel = `${outDir}/part-0.parquet`;
  // `__members` (hidden from readers): the records merged into each row, for the run's accounting.
  await duck.run(
    `COPY (SELECT ${id} AS _id, _source, ${fields.map(ident).join(', ')}, CASE WHEN __n > 1 THEN __winners END AS _winners, __members FROM ${ident(t)} WHERE NOT __conflict ORDER BY _id) ` +
      `TO ${lit(safeJoin(dataDir, partRel))} (${parquetWriterOptions()})`,
  );
  const reviewRel = `${outDir}/review-0.parquet`;
  await duck.run(
    `COPY (SELECT ${id} AS _id, _source, ${fields.map(ident).join(', ')}, 'sources disagree on ' || array_to_string(__differing, ', ') AS reason, ` +
      `[]::VARCHAR[] AS rules, ${c.severity} AS severity, __variants AS variants, __differing AS fields, __n AS records FROM ${ident(t)} WHERE __conflict ORDER BY _id) ` +
      `TO ${lit(safeJoin(dataDir, reviewRel))} (${parquetWriterOptions()})`,
  );
  const [{ n }] = (await duck.all<{ n: number }>(`SELECT COALESCE(sum(__n), 0)::BIGINT AS n FROM ${ident(t)} WHERE __conflict`)) as [{ n: number }];
  await duck.run(`DROP TABLE ${ident(t)}`);
  const part: FileEntry & { hidden: string[] } = { ...(await describeFile(duck, dataDir, partRel)), hidden: ['__members'] };
  return { part, review: await describeFile(duck, dataDir, reviewRel), reviewRecords: Number(n) };
}
