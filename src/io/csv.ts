// CSV and TSV through DuckDB's reader and writer; exported cells are made safe for spreadsheets.
import { ident, lit } from '../engine/duckdb.ts';

/**
 * SQL that reads a CSV or TSV file (gzip detected from the name). Quotes are RFC 4180's (`"`,
 * doubled to escape): left to the sniffer, a file whose quoting is broken is read as if it had no
 * quotes at all, and the stray `"` silently becomes part of the data instead of an error.
 */
export function csvReader(path: string, delim: ',' | '\t'): string {
  return `read_csv(${lit(path)}, header = true, delim = ${lit(delim)}, quote = '"', escape = '"', auto_detect = true, sample_size = 20480)`;
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
