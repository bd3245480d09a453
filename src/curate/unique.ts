// The unique rule without moving the rows: the shuffle hands every reduce task the map parts
// themselves, each reduce reads their key columns and record numbers for its hash range and finds
// the `_id`s whose key repeats, and the commit removes those rows from their parts with deletion
// files and writes them, whole, to the quarantine or the review file. The rows are read and
// written once (by the ingest); only their key columns are read again.
import { mkdirSync } from 'node:fs';
import type { FileEntry, Manifest, Part } from '../core/manifest.ts';
import { describeFile, lineageRowsSql, partSql, recordSql } from '../core/dataset.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import type { CommitDraft, PlanOutputs, PlanSpec, TaskOutput } from '../engine/plan.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { IngestConfig } from './ingest-stage.ts';
import { describeRule, type Rule } from './rules.ts';

/**
 * A part's live rows as a unique rule's reduce reads them: the key columns and the row's identity
 * as `__p`, the `_id` prefix (`<sha256 prefix>:`), and `__rec`, its record number (an `_id` string
 * per row cost a concatenation for every row; it is built for the broken rows only). A part
 * without lineage stores `_id`: it goes in `__p`, and `__rec` is NULL.
 */
export function uniqueKeysSql(dataDir: string, part: Part, rule: Rule): string {
  const key = rule.unique!.map(ident).join(', ');
  const l = part.lineage;
  if (!l) return `SELECT ${key}, _id AS __p, NULL::BIGINT AS __rec FROM (${partSql(dataDir, part)})`;
  const from = `read_parquet(${fileLit(dataDir, part.path)}, file_row_number = true)`;
  const live = part.deletes ? ` WHERE file_row_number NOT IN (SELECT pos FROM read_parquet(${fileLit(dataDir, part.deletes.path)}))` : '';
  return `SELECT ${key}, ${lit(l.prefix + ':')} AS __p, ${recordSql(l)} AS __rec FROM ${from}${live}`;
}

/** The `_id` of a row of `uniqueKeysSql`, built only for the rows that break the rule. */
export const uniqueIdSql = (a: string) => `CASE WHEN ${a}.__rec IS NULL THEN ${a}.__p ELSE ${a}.__p || ${a}.__rec END`;

/** A data file's path as a SQL literal. */
const fileLit = (dataDir: string, rel: string) => lit(safeJoin(dataDir, rel));

/**
 * Rewrites the ingest's draft for a unique rule: `broken` files (from the reduce tasks: `_id`,
 * `__run`, `__p` and `__rec` of every row whose key repeats) become deletion files on the parts that hold those rows,
 * and one quarantine or review file of the whole rows. Returns the new draft and the outputs with
 * the reduce files replaced, so the accounting counts what was written.
 */
export async function commitUnique(
  ctx: { duck: DuckSession; dataDir: string },
  plan: PlanSpec,
  outputs: PlanOutputs,
  draft: CommitDraft,
  head: Manifest | null,
  rule: Rule,
): Promise<{ draft: CommitDraft; outputs: PlanOutputs }> {
  const { pipeline, reuse } = plan.config as unknown as IngestConfig;
  const { duck, dataDir } = ctx;
  const abs = (rel: string) => fileLit(dataDir, rel);
  const slot = rule.action === 'review' ? 'review' : 'quarantine';
  const brokenFiles = [...outputs.reduces.values()].map((o) => (o.stats as Record<string, FileEntry | null>)[slot]).filter((f): f is FileEntry => Boolean(f && f.rows > 0));
  const narrow = new Set(brokenFiles.map((f) => f.path));
  // The version: the head's parts (when this run adds to it) and the new map parts.
  const mapParts = plan.maps.map((m) => (outputs.maps.get(m.id)!.parts as Part[])[0]!).filter((p) => p.rows - (p.deletes?.rows ?? 0) > 0);
  let parts: Part[] = [...(reuse && head ? head.parts : []), ...mapParts];
  const dir = `${plan.dataset}/runs/${plan.runId}/commit`;
  mkdirSync(safeJoin(dataDir, dir), { recursive: true });
  const name = `unique_${plan.runId.replace(/[^A-Za-z0-9]/g, '_')}`;
  const t = ident(name);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${t} AS ${brokenFiles.length ? `SELECT _id, __p, __rec FROM read_parquet([${brokenFiles.map((f) => abs(f.path)).join(', ')}])` : 'SELECT NULL::VARCHAR AS _id, NULL::VARCHAR AS __p, NULL::BIGINT AS __rec WHERE false'}`,
  );
  // rows of lineage parts are found by their record number (an integer join), per `_id` prefix
  const prefixes = new Set((await duck.all<{ p: string }>(`SELECT DISTINCT __p AS p FROM ${t} WHERE __rec IS NOT NULL`)).map((r) => r.p));
  const hit = (p: Part) => !p.lineage || prefixes.has(p.lineage.prefix + ':');
  const fields = pipeline.schema.map((f) => f.name);
  const message = lit(`rule ${rule.id}: ${describeRule(rule)}`);
  // Each touched part is read once: its broken rows, whole and with their positions, into a temp
  // table that gives both the quarantine or review rows and the deletion file.
  const copies = new Map<number, string>();
  for (const [i, p] of parts.entries()) {
    if (!p.lineage || !hit(p)) continue;
    const c = `${name}_${i}`;
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${ident(c)} AS SELECT *${p.hidden?.length ? ` EXCLUDE (${p.hidden.map(ident).join(', ')})` : ''} FROM read_parquet(${abs(p.path)}, file_row_number = true) ` +
        `WHERE ${recordSql(p.lineage)} IN (SELECT __rec FROM ${t} WHERE __p = ${lit(p.lineage.prefix + ':')})`,
    );
    copies.set(i, c);
  }
  const rowsOf = (p: Part, i: number) => (p.lineage ? lineageRowsSql(p.lineage, ident(copies.get(i)!), ['file_row_number']) : `SELECT * FROM (${partSql(dataDir, p)}) WHERE _id IN (SELECT __p FROM ${t} WHERE __rec IS NULL)`);
  const touched = [...parts.entries()].filter(([, p]) => hit(p));
  const wholeRows = touched.length ? touched.map(([i, p]) => rowsOf(p, i)).join(' UNION ALL BY NAME ') : null;
  const rel = `${dir}/${slot}-unique.parquet`;
  const select =
    slot === 'quarantine'
      ? `SELECT _id, _source.source AS source, _source.file AS file, _source.record AS record, _source.line AS line, to_json({${fields.map((f) => `${lit(f)}: ${ident(f)}`).join(', ')}})::VARCHAR AS raw, ${message} AS reason, 'rules' AS stage`
      : `SELECT _id, _source, ${fields.map(ident).join(', ')}, ${message} AS reason, [${lit(rule.id)}] AS rules, ${rule.severity} AS severity`;
  if (wholeRows) await duck.run(`COPY (${select} FROM (${wholeRows}) ORDER BY _id) TO ${abs(rel)} (${parquetWriterOptions()})`);
  const whole = wholeRows ? await describeFile(duck, dataDir, rel) : null;
  // Deletion files: the part's own (if any) plus the positions of its broken rows.
  const next: Part[] = [];
  for (const [i, p] of parts.entries()) {
    if (!hit(p)) {
      next.push(p);
      continue;
    }
    const pos = copies.has(i)
      ? `SELECT file_row_number AS pos FROM ${ident(copies.get(i)!)}`
      : // a part without lineage (only those are not copied) stores its `_id`
        `SELECT file_row_number AS pos FROM read_parquet(${abs(p.path)}, file_row_number = true) WHERE _id IN (SELECT __p FROM ${t} WHERE __rec IS NULL)`;
    const [{ n }] = (await duck.all<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM (${pos})`)) as [{ n: number }];
    if (Number(n) === 0) {
      next.push(p);
      continue;
    }
    const dRel = `${dir}/deletes-${i}.parquet`;
    const old = p.deletes ? `SELECT pos FROM read_parquet(${abs(p.deletes.path)}) UNION ` : '';
    await duck.run(`COPY (SELECT pos FROM (${old}${pos}) ORDER BY pos) TO ${abs(dRel)} (${parquetWriterOptions()})`);
    next.push({ ...p, deletes: await describeFile(duck, dataDir, dRel) });
  }
  parts = next;
  for (const c of copies.values()) await duck.run(`DROP TABLE ${ident(c)}`);
  await duck.run(`DROP TABLE ${t}`);
  const swap = (fs: FileEntry[]) => [...fs.filter((f) => !narrow.has(f.path)), ...(whole && whole.rows > 0 ? [whole] : [])];
  const extra = { ...draft.extra, ...(slot === 'review' ? { review_files: swap((draft.extra?.review_files as FileEntry[] | undefined) ?? []) } : {}) };
  const companions = draft.companions?.map((c, i) => (i === 0 && slot === 'quarantine' ? { ...c, parts: swap(c.parts as FileEntry[]) as Part[] } : c));
  const reduces = new Map<string, TaskOutput>([...outputs.reduces].map(([id, o]) => [id, { ...o, stats: { ...(o.stats as object), [slot]: null } }]));
  const firstReduce = [...reduces.keys()][0];
  if (firstReduce && whole) reduces.set(firstReduce, { ...reduces.get(firstReduce)!, stats: { ...(reduces.get(firstReduce)!.stats as object), [slot]: whole as never } });
  return {
    draft: { ...draft, parts, rows: parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0), extra, ...(companions ? { companions } : {}) },
    outputs: { maps: outputs.maps, reduces },
  };
}
