// Parquet: the format of every part; read with row positions, written with DuckDB's defaults.
import { lit } from '../engine/duckdb.ts';

export function parquetReader(path: string, options: { rowNumbers?: boolean } = {}): string {
  return `read_parquet(${lit(path)}${options.rowNumbers ? ', file_row_number = true' : ''})`;
}

export function parquetWriterOptions(): string {
  return 'FORMAT parquet';
}
