// One place that turns a file into a DuckDB relation, whatever its format.
import { accessSync, constants, statSync } from 'node:fs';
import { InputError } from '../core/errors.ts';
import type { DuckSession } from '../engine/duckdb.ts';
import { csvReader } from './csv.ts';
import { jsonReader } from './json.ts';
import { parquetReader } from './parquet.ts';
import { detectFormat, type Format } from './formats.ts';

/**
 * SQL that reads `path` in file order. Arrow IPC is first loaded into a temp table named
 * `tempName` (DuckDB has no IPC reader built in).
 */
export async function readerSql(session: DuckSession, path: string, format: Format | undefined, tempName: string): Promise<string> {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  if (st.size === 0) throw new InputError(`${path} is empty (0 bytes)`, { hint: 'remove the file or give it a header and rows' });
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      cause: e,
      hint: 'check the file\'s permissions for the user running sluice',
    });
  }
  const f = format ?? detectFormat(path).format;
  switch (f) {
    case 'csv':
      return csvReader(path, ',');
    case 'tsv':
      return csvReader(path, '\t');
    case 'jsonl':
      return jsonReader(path, 'newline_delimited');
    case 'json':
      return jsonReader(path, 'array');
    case 'parquet':
      return parquetReader(path);
    case 'arrow':
      await (await import('./arrow.ts')).loadArrowIpc(session, path, tempName);
      return `"${tempName}"`;
  }
}

/** Wraps a DuckDB failure on an input file into an InputError naming the file. */
export function inputFailure(path: string, e: unknown): InputError {
  const msg = (e as Error).message ?? String(e);
  return new InputError(`cannot import ${path}: ${msg.split('\n').slice(0, 6).join(' | ')}`, {
    cause: e,
    hint: 'fix the row DuckDB names above, or use `sluice curate` to quarantine bad rows instead of failing',
  });
}
