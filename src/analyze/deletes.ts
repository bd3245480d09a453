// Versions as subsets of shared parts: a part's deletion file lists the positions a version
// leaves out, so a split or an undersampling writes positions, never the rows again.
import { describeFile } from '../core/dataset.ts';
import type { Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { lit, type DuckSession } from '../engine/duckdb.ts';
import { PART_COL, POS_COL } from './rows.ts';

/**
 * `part` as seen by a version that also drops the positions `dropSql` selects from `table`
 * (columns `__part`, `__pos`); null when the version keeps none of its rows.
 */
export async function subsetPart(
  duck: DuckSession,
  dataDir: string,
  rel: string,
  part: Part,
  index: number,
  table: string,
  dropSql: string,
  keptRows: number,
): Promise<Part | null> {
  if (keptRows === 0) return null;
  const old = part.deletes ? ` UNION ALL SELECT pos FROM read_parquet(${lit(safeJoin(dataDir, part.deletes.path))})` : '';
  const dropped = part.rows - keptRows;
  if (dropped === (part.deletes?.rows ?? 0)) return part; // nothing more dropped here
  await duck.run(
    `COPY (SELECT ${POS_COL} AS pos FROM ${table} WHERE ${PART_COL} = ${index} AND (${dropSql})${old} ORDER BY pos) TO ${lit(safeJoin(dataDir, rel))} (FORMAT parquet)`,
  );
  const { lineage, path, rows, bytes, sha256 } = part;
  return { path, rows, bytes, sha256, deletes: await describeFile(duck, dataDir, rel), ...(lineage ? { lineage } : {}) };
}

export const liveRowsOf = (parts: Part[]): number => parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0);
