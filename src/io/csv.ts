// CSV and TSV through DuckDB's reader and writer; exported cells are made safe for spreadsheets.
import { ident, lit } from '../engine/duckdb.ts';

/** SQL that reads a CSV or TSV file (gzip detected from the name). */
export function csvReader(path: string, delim: ',' | '\t'): string {
  return `read_csv(${lit(path)}, header = true, delim = ${lit(delim)}, auto_detect = true, sample_size = 20480)`;
}

/**
 * A SELECT list that prefixes text cells starting with = + - @ tab or CR with a quote, so a
 * spreadsheet shows them instead of running them as formulas (OWASP "CSV injection").
 */
export function spreadsheetSafeColumns(columns: { name: string; type: string }[]): string {
  return columns
    .map((c) => {
      const id = ident(c.name);
      const text = c.type === 'VARCHAR' ? id : `CAST(${id} AS VARCHAR)`;
      const numeric = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*|BOOLEAN|DATE|TIMESTAMP.*|TIME)$/.test(c.type);
      if (numeric) return id;
      return `CASE WHEN regexp_matches(${text}, '^[=+\\-@\\t\\r]') THEN '''' || ${text} ELSE ${text} END AS ${id}`;
    })
    .join(', ');
}

export function csvWriterOptions(delim: ',' | '\t'): string {
  return `FORMAT csv, HEADER true, DELIMITER ${lit(delim)}`;
}
