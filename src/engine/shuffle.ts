// The shuffle: a map task writes its rows hash-partitioned by key into one folder per partition
// (DuckDB's PARTITION_BY), and a reduce task reads its partition's files from every map task.
import { readdirSync } from 'node:fs';
import type { FileEntry } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { describeFile } from '../core/dataset.ts';
import { ident, lit, type DuckSession } from './duckdb.ts';

export const PARTITION_COLUMN = '__sluice_p';

/** Writes `sql`'s rows into `outDir/shuffle/__sluice_p=<n>/…parquet`; returns the files by partition. */
export async function writeShuffle(
  duck: DuckSession,
  dataDir: string,
  outDir: string,
  sql: string,
  key: string[],
  partitions: number,
): Promise<Record<string, FileEntry[]>> {
  const dir = `${outDir}/shuffle`;
  const keyExpr = `hash(${key.map(ident).join(', ')}) % ${partitions}`;
  await duck.run(
    `COPY (SELECT *, (${keyExpr})::INTEGER AS ${PARTITION_COLUMN} FROM (${sql})) TO ${lit(safeJoin(dataDir, dir))} ` +
      `(FORMAT parquet, PARTITION_BY (${PARTITION_COLUMN}), OVERWRITE_OR_IGNORE)`,
  );
  const out: Record<string, FileEntry[]> = {};
  let subdirs: string[] = [];
  try {
    subdirs = readdirSync(safeJoin(dataDir, dir));
  } catch {
    return out; // no rows: no partition folders
  }
  for (const sub of subdirs.sort()) {
    const m = new RegExp(`^${PARTITION_COLUMN}=(\\d+)$`).exec(sub);
    if (!m) continue;
    for (const f of readdirSync(safeJoin(dataDir, dir, sub)).sort()) {
      (out[m[1]!] ??= []).push(await describeFile(duck, dataDir, `${dir}/${sub}/${f}`));
    }
  }
  return out;
}

/** SQL reading a partition's shuffle files (hive partition columns off: the key is in the rows). */
export function readShuffle(dataDir: string, files: FileEntry[]): string {
  const list = files.map((f) => lit(safeJoin(dataDir, f.path))).join(', ');
  return `read_parquet([${list}], hive_partitioning = false, union_by_name = true)`;
}
