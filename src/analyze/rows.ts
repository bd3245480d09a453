// Rows of a version with their place: part index and position, so a split or a resampling can
// be written as deletion files over the same parts instead of copying the rows.
import { lit } from '../engine/duckdb.ts';
import type { Manifest, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';

export const PART_COL = '__part';
export const POS_COL = '__pos';

/** One part's live rows with `__part`, `__pos`, `_id`, `_source` and the stored columns. */
export function partRowsSql(dataDir: string, part: Part, index: number): string {
  const from = `read_parquet(${lit(safeJoin(dataDir, part.path))}, file_row_number = true)`;
  const where = part.deletes ? ` WHERE file_row_number NOT IN (SELECT pos FROM read_parquet(${lit(safeJoin(dataDir, part.deletes.path))}))` : '';
  const head = `${index}::INTEGER AS ${PART_COL}, file_row_number AS ${POS_COL}`;
  if (part.lineage) {
    const l = part.lineage;
    const rec = `(file_row_number + ${l.first})`;
    return (
      `SELECT ${head}, ${lit(l.prefix + ':')} || ${rec} AS _id, ` +
      `{'source': ${lit(l.source)}, 'file': ${lit(l.file)}, 'record': ${rec}} AS _source, ` +
      `* EXCLUDE (file_row_number) FROM ${from}${where}`
    );
  }
  return `SELECT ${head}, * EXCLUDE (file_row_number) FROM ${from}${where}`;
}

/** All live rows of a version, with their part and position. */
export function versionRowsSql(dataDir: string, m: Manifest): string {
  return m.parts.map((p, i) => `(${partRowsSql(dataDir, p, i)})`).join(' UNION ALL BY NAME ');
}
