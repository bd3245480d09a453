// Reading a dataset version: SQL over its parts and deletion files, with `_id` and `_source`
// derived from position where the part carries lineage; checks of the parts' bytes.
import { statSync } from 'node:fs';
import { IntegrityError } from './errors.ts';
import type { FileEntry, Manifest, Part } from './manifest.ts';
import { safeJoin } from './names.ts';
import { sha256File } from './hash.ts';
import { type DuckSession, ident, lit } from '../engine/duckdb.ts';

export const SYSTEM_COLUMNS = ['_id', '_source'] as const;

/** The SQL relation of one part, with deleted rows removed and lineage columns derived. */
export function partSql(dataDir: string, part: Part): string {
  const path = lit(safeJoin(dataDir, part.path));
  const needPos = Boolean(part.lineage || part.deletes);
  const from = `read_parquet(${path}${needPos ? ', file_row_number = true' : ''})`;
  const where = part.deletes
    ? ` WHERE file_row_number NOT IN (SELECT pos FROM read_parquet(${lit(safeJoin(dataDir, part.deletes.path))}))`
    : '';
  const exclude = [...(needPos ? ['file_row_number'] : []), ...(part.hidden ?? [])];
  if (part.lineage) return lineageRowsSql(part.lineage, `${from}${where}`, exclude);
  return exclude.length ? `SELECT * EXCLUDE (${exclude.map(ident).join(', ')}) FROM ${from}${where}` : `SELECT * FROM ${from}`;
}

type Lineage = NonNullable<Part['lineage']>;

/** A lineage part's record number, over its rows read with `file_row_number = true`. */
export function recordSql(l: Lineage): string {
  return l.record_column ? ident(l.record_column) : `(file_row_number + ${l.first})`;
}

/**
 * A lineage part's rows with their `_id` and `_source` made from the record (and line) numbers,
 * without those columns and `exclude`; `from` reads the part's columns and `file_row_number`.
 */
export function lineageRowsSql(l: Lineage, from: string, exclude: string[]): string {
  const rec = recordSql(l);
  const line = l.line_column ? `, 'line': ${ident(l.line_column)}` : '';
  const own = [l.record_column, l.line_column].filter((c): c is string => Boolean(c));
  return (
    `SELECT ${lit(l.prefix + ':')} || ${rec} AS _id, ` +
    `{'source': ${lit(l.source)}, 'file': ${lit(l.file)}, 'record': ${rec}${line}} AS _source, ` +
    `* EXCLUDE (${[...exclude, ...own].map(ident).join(', ')}) FROM ${from}`
  );
}

/** The SQL relation of a whole version (UNION ALL of its parts, by column name). */
export function scanSql(dataDir: string, m: Manifest): string {
  if (m.parts.length === 0) {
    const cols = [
      `NULL::VARCHAR AS _id`,
      `NULL::STRUCT(source VARCHAR, file VARCHAR, record BIGINT) AS _source`,
      ...m.schema.filter((c) => !SYSTEM_COLUMNS.includes(c.name as never)).map((c) => `NULL::${c.type} AS "${c.name.replace(/"/g, '""')}"`),
    ];
    return `SELECT ${cols.join(', ')} WHERE false`;
  }
  return m.parts.map((p) => `(${partSql(dataDir, p)})`).join(' UNION ALL BY NAME ');
}

const verified = new Map<string, string>(); // "path|size|mtime" → sha256, per process

/** Checks that a stored file exists and has the recorded size and sha256. */
export async function verifyFile(dataDir: string, f: FileEntry, where: string): Promise<void> {
  const abs = safeJoin(dataDir, f.path);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    throw new IntegrityError(`${where}: part ${f.path} is missing (${(e as NodeJS.ErrnoException).code})`, {
      cause: e,
      hint: 'the data folder lost a file the catalog references; restore it from a backup',
    });
  }
  if (st.size !== f.bytes) {
    throw new IntegrityError(`${where}: part ${f.path} has ${st.size} bytes, the catalog recorded ${f.bytes}`, {
      hint: 'the file was changed outside sluice; restore it from a backup',
    });
  }
  const key = `${abs}|${st.size}|${st.mtimeMs}`;
  const sha = verified.get(key) ?? (await sha256File(abs));
  if (sha !== f.sha256) {
    throw new IntegrityError(`${where}: part ${f.path} has sha256 ${sha.slice(0, 12)}…, the catalog recorded ${f.sha256.slice(0, 12)}…`, {
      hint: 'the file was changed outside sluice; restore it from a backup',
    });
  }
  verified.set(key, sha);
}

/** Verifies every part and deletion file of a version. */
export async function verifyManifest(dataDir: string, m: Manifest): Promise<void> {
  const where = `${m.dataset}@${m.version}`;
  for (const p of m.parts) {
    await verifyFile(dataDir, p, where);
    if (p.deletes) await verifyFile(dataDir, p.deletes, where);
  }
}

/**
 * Describes a file just written under the data folder: rows (from Parquet metadata), bytes, sha256.
 * `hashing`: the file's sha256 already being computed (started when the file was closed, so the
 * hashing overlaps other work).
 */
export async function describeFile(session: DuckSession, dataDir: string, relPath: string, hashing?: Promise<string>): Promise<FileEntry> {
  const abs = safeJoin(dataDir, relPath);
  const [{ rows }] = (await session.all<{ rows: number }>(
    `SELECT COALESCE(SUM(num_rows), 0)::BIGINT AS rows FROM parquet_file_metadata(${lit(abs)})`,
  )) as [{ rows: number }];
  const st = statSync(abs);
  const sha256 = await (hashing ?? sha256File(abs));
  verified.set(`${abs}|${st.size}|${st.mtimeMs}`, sha256);
  return { path: relPath, rows: Number(rows), bytes: st.size, sha256 };
}
