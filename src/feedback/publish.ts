// Publishes decided examples from the SQL outbox as dataset versions `feedback@N`: one Parquet part
// per publish, appended through the catalog. Crash-safe in three idempotent steps:
//   1. record the batch range (published, publishing] in the feedback state;
//   2. write the part and commit the version under a run id naming that range (the catalog commits
//      a run id at most once, so a redo after a crash finds the version instead of adding another);
//   3. mark the range published.
// A crash between any two steps redoes the unfinished ones with the same range: the dataset and the
// SQL state always agree on which examples are in it.
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { describeFile } from '../core/dataset.ts';
import type { Manifest } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { phaseClock } from '../engine/profile.ts';
import type { SqlDb } from '../store/sql.ts';
import { FieldTypes, type FieldTypeMap } from './field-types.ts';
import { ROW_COLUMNS } from './example.ts';
import { FEEDBACK_COLUMNS } from './records.ts';
import { readProgress } from './state.ts';

export interface Published {
  /** the version committed (or found committed) by this call; null when nothing was new */
  version: number | null;
  rows: number;
  batches: [number, number] | null;
}


export async function publish(project: Project, db: SqlDb, dataset: string): Promise<Published> {
  // 1. the range
  const range = await db.transaction(async (tx) => {
    const p = await readProgress(tx);
    if (p.publishing === null) {
      if (p.batch <= p.published) return null;
      await tx.run('UPDATE fb_progress SET publishing = ? WHERE id = 1', [p.batch]);
      return { instance: p.instance, from: Number(p.published), to: Number(p.batch) };
    }
    return { instance: p.instance, from: Number(p.published), to: Number(p.publishing) };
  });
  if (!range) return { version: null, rows: 0, batches: null };
  const runId = `feedback:${range.instance}:${dataset}:${range.from}-${range.to}`;
  // 2. the part and the version (skipped when an earlier attempt committed it)
  const done = await project.catalog.db.get<{ version: number; row_count: number }>('SELECT version, row_count FROM versions WHERE run_id = ?', [runId]);
  let version: number | null = done ? Number(done.version) : null;
  let rows = 0;
  if (!done) {
    const out = await writePart(project, db, dataset, range);
    rows = out?.rows ?? 0;
    if (out) version = (await commitPart(project, dataset, out.manifestPart, out.schema, runId, range)).version;
  }
  // 3. mark published (and drop the published lines from the outbox)
  await db.transaction(async (tx) => {
    if (await tx.run('UPDATE fb_progress SET published = ?, publishing = NULL WHERE id = 1 AND publishing = ?', [range.to, range.to])) {
      await tx.run('DELETE FROM fb_outbox WHERE batch <= ?', [range.to]);
    }
  });
  return { version, rows, batches: [range.from + 1, range.to] };
}

async function writePart(project: Project, db: SqlDb, dataset: string, range: { instance: string; from: number; to: number }) {
  const rel = `${dataset}/part-${range.instance.slice(0, 8)}-${range.from + 1}-${range.to}.parquet`;
  const abs = safeJoin(project.dataDir, rel);
  mkdirSync(dirname(abs), { recursive: true });
  const tmpJson = `${abs}.${process.pid}.ndjson`;
  const tmpParquet = `${abs}.${process.pid}.tmp`;
  try {
    const clock = phaseClock();
    const ws = createWriteStream(tmpJson);
    let n = 0;
    const types = new FieldTypes(ROW_COLUMNS);
    // The outbox holds one row per batch: its examples as NDJSON lines, made when they were decided.
    let after = range.from;
    for (;;) {
      // lines: UTF-8 bytes (SQLite), or text (PostgreSQL, and SQLite outboxes written before)
      const page = await db.all<{ batch: number; n: number; lines: string | Uint8Array; types: string | null }>('SELECT batch, n, lines, types FROM fb_outbox WHERE batch > ? AND batch <= ? ORDER BY batch LIMIT 8', [after, range.to]);
      clock.lap('read outbox');
      if (!page.length) break;
      for (const r of page) {
        types.addAll(r.types === null ? null : (JSON.parse(r.types) as FieldTypeMap));
        if (typeof r.lines !== 'string') ws.write(r.lines);
        if (!ws.write(typeof r.lines === 'string' ? r.lines + '\n' : '\n')) await once(ws, 'drain');
        n += Number(r.n);
      }
      clock.lap('write');
      after = Number(page[page.length - 1]!.batch);
    }
    ws.end();
    await once(ws, 'close');
    if (n === 0) return null;
    const duck = await project.duck();
    const fixed = Object.entries(FEEDBACK_COLUMNS).map(([c, t]) =>
      t === 'TIMESTAMP' ? `epoch_ms(CAST(${ident(c)} AS BIGINT)) AS ${ident(c)}` : `CAST(${ident(c)} AS ${t}) AS ${ident(c)}`,
    );
    // With the field columns' types known, one pass over the lines; else DuckDB infers them from all
    // of them (another whole pass: a sample could miss a field or a type).
    const known = types.result(true);
    const given = known && Object.entries({ ...rowTypes(), ...known }).map(([c, t]) => `${lit(c)}: ${lit(t)}`).join(', ');
    const src = given
      ? `read_json(${lit(tmpJson)}, format = 'newline_delimited', columns = {${given}})`
      : `read_json(${lit(tmpJson)}, format = 'newline_delimited', sample_size = -1)`;
    await duck.run(
      `COPY (SELECT CAST(_id AS VARCHAR) AS _id, {'source': 'feedback', 'file': 'predictions', 'record': CAST(_ord AS BIGINT)} AS _source, ${fixed.join(', ')},
        * EXCLUDE (_id, _ord, ${Object.keys(FEEDBACK_COLUMNS).map(ident).join(', ')}) FROM ${src} ORDER BY prediction_id)
       TO ${lit(tmpParquet)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    clock.lap(`DuckDB NDJSON → Parquet (${given ? 'types given' : 'types inferred'})`);
    const schema = (await duck.describe(`SELECT * FROM read_parquet(${lit(tmpParquet)})`)).map((c) => ({ name: c.name, type: c.type, nullable: true }));
    renameSync(tmpParquet, abs);
    const manifestPart = await describeFile(duck, project.dataDir, rel);
    clock.lap('describe');
    clock.report(`publish ${dataset} (${n} rows)`);
    return { rows: n, manifestPart, schema };
  } finally {
    rmSync(tmpJson, { force: true });
    rmSync(tmpParquet, { force: true });
  }
}

/**
 * The row's own columns as read from the lines: text as VARCHAR, numbers as DOUBLE (the query casts
 * them to their dataset types, as it casts what read_json infers).
 */
function rowTypes(): Record<string, string> {
  const out: Record<string, string> = { _id: 'VARCHAR', _ord: 'BIGINT' };
  for (const [c, t] of Object.entries(FEEDBACK_COLUMNS)) out[c] = t === 'VARCHAR' ? 'VARCHAR' : 'DOUBLE';
  return out;
}

async function commitPart(project: Project, dataset: string, part: Manifest['parts'][number], schema: Manifest['schema'], runId: string, range: { from: number; to: number }): Promise<Manifest> {
  const head = await project.catalog.head(dataset);
  const prev = head === null ? null : await project.catalog.manifest(dataset, head);
  const byName = new Map((prev?.schema ?? []).map((c) => [c.name, c]));
  for (const c of schema) if (!byName.has(c.name)) byName.set(c.name, c);
  const parts = [...(prev?.parts ?? []), part];
  return project.catalog.commit(
    dataset,
    head,
    {
      schema: [...byName.values()],
      parts,
      rows: parts.reduce((n, p) => n + p.rows, 0),
      parents: prev ? [`${dataset}@${prev.version}`] : [],
      operation: 'feedback',
      config_hash: '',
      licences: prev?.licences ?? [],
      extra: { batches: [range.from + 1, range.to] },
    },
    runId,
  );
}
