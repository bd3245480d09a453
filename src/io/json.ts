// JSON Lines and JSON arrays through DuckDB's JSON reader and writer.
import { lit } from '../engine/duckdb.ts';

export function jsonReader(path: string, shape: 'newline_delimited' | 'array'): string {
  return `read_json(${lit(path)}, format = ${lit(shape)}, auto_detect = true, sample_size = 20480, maximum_object_size = 67108864)`;
}

export function jsonlWriterOptions(): string {
  return 'FORMAT json';
}
