// `review apply`: folds the final decisions of a dataset's items into a new version. Accepted and
// edited records are written to one new part (its hidden `_review` column names each row's
// decision); rows they replace, and rejected rows already in the data, leave through deletion
// files over the shared parts; rejected records go to `<dataset>-quarantine` in the same commit.
//
// Idempotent: the decision ids each apply folded in are listed in its manifest (`extra.review`),
// and the next apply skips every id some version lists; the commit's run id is derived from the
// ids, so a rerun after a crash returns the same version.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeFile } from '../core/dataset.ts';
import { InputError, NotFoundError } from '../core/errors.ts';
import { configHash } from '../core/hash.ts';
import type { Manifest, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import { QUARANTINE_SCHEMA } from '../curate/ingest-stage.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { Decision, ReviewItem, ReviewStore } from './store.ts';
import { userColumns } from './validate.ts';

export interface ApplyResult {
  dataset: string;
  from: number;
  /** the new version, or null when there was nothing new to apply */
  to: number | null;
  added: number;
  replaced: number;
  removed: number;
  quarantined: number;
  decisions: number[];
}

const DEFAULT_SOURCE = 'STRUCT("source" VARCHAR, file VARCHAR, record BIGINT)';

/** Decision ids some version of `dataset` already folded in. */
async function appliedDecisions(project: Project, dataset: string): Promise<Set<number>> {
  const out = new Set<number>();
  for (const v of await project.catalog.versions(dataset)) {
    const m = await project.catalog.manifest(dataset, v.version);
    const r = m.extra?.review as { decisions?: number[] } | undefined;
    for (const id of r?.decisions ?? []) out.add(id);
  }
  return out;
}

/** The record a decision puts in the data, or null for a rejection. */
function resultRecord(item: ReviewItem, d: Decision): { record: Record<string, unknown>; source: string | null } | null {
  if (d.action === 'reject') return null;
  const variant = d.variant ? item.variants?.find((v) => v.source === d.variant) : undefined;
  const source = variant?.source ?? item.source ?? null;
  if (d.action === 'edit') return { record: d.record ?? {}, source };
  if (d.action === 'label') return { record: { ...item.record, [item.label_field ?? 'label']: d.label }, source };
  return { record: variant?.record ?? item.record, source };
}

function withoutSource(r: Record<string, unknown>): Record<string, unknown> {
  const { _source: _s, ...rest } = r;
  return rest;
}

/** SQL for the `_id` of each row of a part (derived from position, or stored). */
function idExpr(p: Part): string {
  if (!p.lineage) return '_id';
  const rec = p.lineage.record_column ? ident(p.lineage.record_column) : `(file_row_number + ${p.lineage.first})`;
  return `${lit(p.lineage.prefix + ':')} || ${rec}`;
}

/** Each part with the rows whose `_id` is in `targets` added to its deletion file; and how many went. */
async function dropIds(duck: DuckSession, dataDir: string, m: Manifest, targets: string, dir: string): Promise<{ parts: Part[]; hits: Set<string> }> {
  const parts: Part[] = [];
  const hits = new Set<string>();
  for (const p of m.parts) {
    const old = p.deletes ? `SELECT pos FROM read_parquet(${lit(safeJoin(dataDir, p.deletes.path))})` : null;
    const rel = `(SELECT ${idExpr(p)} AS _id, file_row_number AS pos FROM read_parquet(${lit(safeJoin(dataDir, p.path))}, file_row_number = true))`;
    const found = await duck.all<{ _id: string; pos: number }>(
      `SELECT _id, pos FROM ${rel} WHERE _id IN (SELECT _id FROM ${targets})${old ? ` AND pos NOT IN (${old})` : ''}`,
    );
    if (!found.length) {
      parts.push(p);
      continue;
    }
    for (const f of found) hits.add(f._id);
    const delRel = `${dir}/deletes-${randomUUID().slice(0, 12)}.parquet`;
    const positions = found.map((f) => Number(f.pos)).join(', ');
    await duck.run(
      `COPY (SELECT pos FROM (${old ? `${old} UNION ALL ` : ''}SELECT unnest([${positions}])::BIGINT AS pos) ORDER BY pos) TO ${lit(safeJoin(dataDir, delRel))} (${parquetWriterOptions()})`,
    );
    parts.push({ ...p, deletes: await describeFile(duck, dataDir, delRel) });
  }
  return { parts: parts.filter((p) => p.rows - (p.deletes?.rows ?? 0) > 0), hits };
}

/**
 * Folds the dataset's final decisions not yet applied into a new version.
 * @example const r = await applyReview(project, store, 'ads'); // r.to === 4
 */
export async function applyReview(project: Project, store: ReviewStore, dataset: string): Promise<ApplyResult> {
  const head = await project.catalog.head(dataset);
  if (head === null) throw new NotFoundError(`dataset ${dataset} does not exist`, { hint: 'review items fold into an existing dataset; list them with `sluice datasets`' });
  const m = await project.catalog.manifest(dataset, head);
  const applied = await appliedDecisions(project, dataset);
  const todo = (await store.finalDecisions(dataset)).filter((f) => !applied.has(f.decision.id));
  const result: ApplyResult = { dataset, from: head, to: null, added: 0, replaced: 0, removed: 0, quarantined: 0, decisions: todo.map((t) => t.decision.id) };
  if (!todo.length) return result;

  // The last decision on a record wins when several items name the same `_id`.
  const byId = new Map<string, { item: ReviewItem; decision: Decision }>();
  for (const t of todo) byId.set(t.item.record_id, t);
  const keep = [...byId.values()].map((t) => ({ ...t, out: resultRecord(t.item, t.decision) }));
  const accepted = keep.filter((k) => k.out);
  const rejected = keep.filter((k) => !k.out);

  const duck = await project.duck();
  const dataDir = project.dataDir;
  const dir = `${dataset}/review-${randomUUID().slice(0, 12)}`;
  mkdirSync(safeJoin(dataDir, dir), { recursive: true });
  const tmp = join(project.root, '.sluice', 'tmp');
  mkdirSync(tmp, { recursive: true });
  const tag = randomUUID().slice(0, 8);
  const idsFile = join(tmp, `review-ids-${tag}.jsonl`);
  const rowsFile = join(tmp, `review-rows-${tag}.jsonl`);
  try {
    writeFileSync(idsFile, keep.map((k) => JSON.stringify({ _id: k.item.record_id })).join('\n') + '\n');
    const targets = `read_json(${lit(idsFile)}, format = 'newline_delimited', columns = {'_id': 'VARCHAR'})`;
    const { parts, hits } = await dropIds(duck, dataDir, m, targets, dir);
    const newParts: Part[] = [];
    if (accepted.length) {
      const cols = userColumns(m.schema);
      const known = new Set(cols.map((c) => c.name));
      for (const a of accepted) {
        const extra = Object.keys(a.out!.record).filter((k) => !known.has(k) && k !== '_id' && k !== '_source');
        if (extra.length) throw new InputError(`review decision ${a.decision.id} (item ${a.item.id}) has fields not in ${dataset}'s schema: ${extra.join(', ')}`, { hint: 'reject the item or edit the record to the schema' });
      }
      writeFileSync(rowsFile, accepted.map((a) => JSON.stringify({ ...withoutSource(a.out!.record), _id: a.item.record_id, _review: a.decision.id, __src: a.out!.source ?? 'review' })).join('\n') + '\n');
      const spec = [['_id', 'VARCHAR'], ['_review', 'BIGINT'], ['__src', 'VARCHAR'], ...cols.map((c) => [c.name, c.type])].map(([n, t]) => `${lit(n!)}: ${lit(t!)}`).join(', ');
      const sourceType = m.schema.find((c) => c.name === '_source')?.type ?? DEFAULT_SOURCE;
      const partRel = `${dir}/part-0.parquet`;
      try {
        await duck.run(
          `COPY (SELECT _id, CAST({'source': __src, 'file': 'review'} AS ${sourceType}) AS _source, ${cols.map((c) => ident(c.name)).join(', ')}${cols.length ? ', ' : ''}_review
           FROM read_json(${lit(rowsFile)}, format = 'newline_delimited', columns = {${spec}})) TO ${lit(safeJoin(dataDir, partRel))} (${parquetWriterOptions()})`,
        );
      } catch (e) {
        throw new InputError(`review apply: the decided records do not fit ${dataset}'s schema: ${(e as Error).message.split('\n')[0]}`, { cause: e });
      }
      newParts.push({ ...(await describeFile(duck, dataDir, partRel)), hidden: ['_review'] });
    }
    const quarantine: Part[] = [];
    if (rejected.length) {
      const qRel = `${dir}/quarantine-0.parquet`;
      const rows = rejected.map((r) => ({
        _id: r.item.record_id,
        source: r.item.source ?? 'review',
        file: r.item.routed_in ?? 'review',
        raw: JSON.stringify(r.item.record),
        reason: `review: rejected by ${r.decision.reviewer} (decision ${r.decision.id})${r.decision.comment ? `: ${r.decision.comment}` : ''}`,
      }));
      writeFileSync(rowsFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await duck.run(
        `COPY (SELECT _id, source, file, NULL::BIGINT AS record, NULL::BIGINT AS line, raw, reason, 'review' AS stage
         FROM read_json(${lit(rowsFile)}, format = 'newline_delimited', columns = {'_id': 'VARCHAR', 'source': 'VARCHAR', 'file': 'VARCHAR', 'raw': 'VARCHAR', 'reason': 'VARCHAR'}))
         TO ${lit(safeJoin(dataDir, qRel))} (${parquetWriterOptions()})`,
      );
      quarantine.push(await describeFile(duck, dataDir, qRel));
    }
    result.replaced = accepted.filter((a) => hits.has(a.item.record_id)).length;
    result.added = accepted.length - result.replaced;
    result.removed = rejected.filter((r) => hits.has(r.item.record_id)).length;
    result.quarantined = rejected.length;
    const all = [...parts, ...newParts];
    const review = { decisions: result.decisions, added: result.added, replaced: result.replaced, removed: result.removed, quarantined: result.quarantined };
    const config = { review_apply: result.decisions };
    const next = await project.catalog.commit(
      dataset,
      head,
      {
        schema: m.schema,
        parts: all,
        rows: all.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
        parents: [`${dataset}@${head}`],
        operation: 'review-apply',
        config_hash: configHash(config),
        config,
        licences: m.licences,
        extra: { ...(m.extra ?? {}), review },
      },
      `review-apply:${dataset}:${configHash(result.decisions)}`,
      quarantine.length
        ? [{ dataset: `${dataset}-quarantine`, parts: quarantine, schema: QUARANTINE_SCHEMA, operation: 'quarantine', config_hash: configHash(config), licences: m.licences, extra: { review } }]
        : [],
    );
    result.to = next.version;
    await store.markApplied(todo.map((t) => t.item.id), `${dataset}@${next.version}`);
    return result;
  } finally {
    rmSync(idsFile, { force: true });
    rmSync(rowsFile, { force: true });
  }
}
