// The curate run's accounting: per source, how many records it read and where each one ended
// (accepted, quarantined, review, duplicate), counted from the files the run wrote, not derived;
// per rule, how often it fired. `reconcile` refuses a version whose counts do not add up.
import type { FileEntry, Part } from '../core/manifest.ts';
import { IntegrityError } from '../core/errors.ts';
import { safeJoin } from '../core/names.ts';
import { lit, type DuckSession } from '../engine/duckdb.ts';
import type { PlanOutputs, PlanSpec } from '../engine/plan.ts';
import type { IngestConfig, IngestStats } from './ingest-stage.ts';
import type { Rule } from './rules.ts';

export const OUTCOMES = ['accepted', 'quarantined', 'review', 'duplicate'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type SourceOutcomes = { source: string; files: number; records: number } & Record<Outcome, number>;

export interface RuleCount {
  id: string;
  action: Rule['action'];
  /** records this run that broke the rule (whatever happened to them) */
  fired: number;
}

export interface CurateSummary {
  sources: SourceOutcomes[];
  rules: RuleCount[];
}

interface ReduceStats {
  duplicates?: FileEntry | null;
  review?: FileEntry | null;
  quarantine?: FileEntry | null;
}

/**
 * Counts this run's outcomes from its outputs: the map tasks' quarantine and review files, the
 * reduce tasks' duplicates, quarantine and review files, and the version's parts (`parts`, the
 * draft's). Rows already in the dataset that took part in a reduce are told apart by `_id`: theirs
 * start with another file's hash.
 */
export async function summarize(duck: DuckSession, dataDir: string, plan: PlanSpec, outputs: PlanOutputs, parts: Part[]): Promise<CurateSummary> {
  const { pipeline } = plan.config as unknown as IngestConfig;
  const stats = plan.maps.map((m) => outputs.maps.get(m.id)!.stats as unknown as IngestStats);
  const reduced = [...outputs.reduces.values()].map((o) => (o.stats ?? {}) as ReduceStats);
  const prefixes = [...new Set(stats.map((s) => s.sha256.slice(0, 16)))];
  const fresh = (idExpr: string) => `left(${idExpr}, 16) IN (${prefixes.map(lit).join(', ')})`;
  const files = (fs: (FileEntry | null | undefined)[]) => fs.filter((f): f is FileEntry => Boolean(f && f.rows > 0));
  const read = (fs: FileEntry[]) => `read_parquet([${fs.map((f) => lit(safeJoin(dataDir, f.path))).join(', ')}], union_by_name = true)`;
  const bySource = async (sql: string): Promise<Map<string, number>> =>
    new Map((await duck.all<{ source: string; n: number }>(`SELECT source, count(*)::BIGINT AS n FROM (${sql}) GROUP BY source`)).map((r) => [r.source, Number(r.n)]));
  const count = async (fs: FileEntry[], sql: (from: string) => string) => (fs.length ? bySource(sql(read(fs))) : new Map<string, number>());

  const quarantined = await count(files([...stats.map((s) => s.quarantine), ...reduced.map((r) => r.quarantine)]), (f) => `SELECT source FROM ${f} WHERE ${fresh('_id')}`);
  const duplicate = await count(files(reduced.map((r) => r.duplicates)), (f) => `SELECT source FROM ${f} WHERE ${fresh('_id')}`);
  // Review files: one row per record, except conflicts, whose row lists every source's record.
  const review = await count(files([...stats.map((s) => s.reviewFile), ...reduced.map((r) => r.review)]), (f) =>
    pipeline.conflicts
      ? `SELECT v->>'source' AS source FROM (SELECT unnest(CASE WHEN variants IS NULL THEN [to_json({'source': _source.source, '_id': _id})] ELSE from_json(variants, '["JSON"]') END) AS v FROM ${f}) WHERE ${fresh(`v->>'_id'`)}`
      : `SELECT _source.source AS source FROM ${f} WHERE ${fresh('_id')}`,
  );
  // Accepted: parts with lineage are one file's rows (their deletion files remove the rest);
  // reduce parts carry `_id` and `_source`, and merged entities the records merged into them.
  const accepted = new Map<string, number>();
  const scanned: Part[] = [];
  for (const p of parts) {
    if (p.lineage) {
      if (prefixes.includes(p.lineage.prefix)) accepted.set(p.lineage.source, (accepted.get(p.lineage.source) ?? 0) + p.rows - (p.deletes?.rows ?? 0));
    } else if (p.rows > 0) scanned.push(p);
  }
  const fromParts = await count(scanned, (f) =>
    pipeline.conflicts
      ? `SELECT split_part(m, chr(31), 1) AS source FROM (SELECT unnest(__members) AS m FROM ${f}) WHERE ${fresh(`split_part(m, chr(31), 2)`)}`
      : `SELECT _source.source AS source FROM ${f} WHERE ${fresh('_id')}`,
  );
  for (const [s, n] of fromParts) accepted.set(s, (accepted.get(s) ?? 0) + n);

  const sources: SourceOutcomes[] = [];
  for (const s of pipeline.sources) {
    const mine = stats.filter((x) => x.source === s.name);
    if (!mine.length) continue;
    const get = (m: Map<string, number>) => m.get(s.name) ?? 0;
    sources.push({
      source: s.name,
      files: mine.length,
      records: mine.reduce((n, x) => n + x.records, 0),
      accepted: get(accepted),
      quarantined: get(quarantined),
      review: get(review),
      duplicate: get(duplicate),
    });
  }
  const unique = pipeline.rules.find((r) => r.unique);
  const rules: RuleCount[] = [];
  for (const r of pipeline.rules) {
    const fired = r === unique ? await uniqueCount(duck, reduced, files, read, fresh) : stats.reduce((n, x) => n + (x.rules[r.id] ?? 0), 0);
    rules.push({ id: r.id, action: r.action, fired });
  }
  return { sources, rules };
}

/** Records a unique rule moved out in the reduce step (its quarantine and review rows). */
async function uniqueCount(
  duck: DuckSession,
  reduced: ReduceStats[],
  files: (fs: (FileEntry | null | undefined)[]) => FileEntry[],
  read: (fs: FileEntry[]) => string,
  fresh: (idExpr: string) => string,
): Promise<number> {
  const fs = files(reduced.flatMap((r) => [r.quarantine, r.review]));
  if (!fs.length) return 0;
  const [row] = await duck.all<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${read(fs)} WHERE ${fresh('_id')}`);
  return Number(row?.n ?? 0);
}

/**
 * The accounting invariant, checked in code: every record a source's files held ends in exactly
 * one outcome. Throws an IntegrityError naming the source and its counts.
 * @example reconcile([{ source: 'log', files: 1, records: 3, accepted: 2, quarantined: 1, review: 0, duplicate: 0 }], 'imps')
 */
export function reconcile(sources: SourceOutcomes[], where: string): void {
  for (const s of sources) {
    const sum = OUTCOMES.reduce((n, o) => n + s[o], 0);
    if (sum !== s.records) {
      throw new IntegrityError(
        `${where}: source ${s.source} read ${s.records} records, but its outcomes add up to ${sum} (${OUTCOMES.map((o) => `${o} ${s[o]}`).join(' + ')})`,
        { hint: 'a record was lost or counted twice: nothing was committed; this is a bug in sluice, please report it with the pipeline and files' },
      );
    }
  }
}
