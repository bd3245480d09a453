// Turns one input (a file of any supported format, or a PostgreSQL query) into a DuckDB relation
// with `__rec` (record number, 1-based) and `__line` (first line, for text formats), after the
// independent accounting pass has set damaged records aside.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { pipeline as pipe } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ConfigError, InputError } from '../core/errors.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import { jsonReader } from '../io/json.ts';
import { parquetReader } from '../io/parquet.ts';
import type { Format } from '../io/formats.ts';
import type { BadRecord } from './scan.ts';
import { scanFile, SPLIT_MIN_BYTES, type CleanFile } from './scan-split.ts';
import type { ColumnAccess } from './mapping.ts';

export interface PreparedInput {
  /** relation with __rec, __line and the source's columns (or __json and __ok for JSON Lines); call after compiling */
  relation: () => string;
  access: ColumnAccess;
  /** records counted by the independent pass (or by DuckDB for typed formats) */
  records: number;
  bad: BadRecord[];
  /** SQL for a quarantined row's raw text, over the mapped relation */
  rawExpr: (fields: string[]) => string;
  /** gate for JSON Lines: rows that are not a JSON object get this reason */
  gate?: { ok: string; reason: string };
  notes: string[];
}

export async function prepareInput(
  duck: DuckSession,
  path: string,
  format: Format,
  cleanPath: string,
  temp: string,
  maxRecordBytes: number,
  /** scan a large file on two threads (false when other tasks already keep the cores busy) */
  split = true,
): Promise<PreparedInput> {
  if ((format === 'csv' || format === 'tsv' || format === 'jsonl') && path.toLowerCase().endsWith('.gz')) {
    // The accounting pass reads bytes: decompress next to the clean file first.
    const plain = `${cleanPath}.raw`;
    try {
      await pipe(createReadStream(path), createGunzip(), createWriteStream(plain));
    } catch (e) {
      throw new InputError(`${path}: not a readable gzip file (${(e as Error).message})`, { cause: e, hint: 'check the file is complete, or gunzip it yourself to see the error' });
    }
    path = plain;
  }
  if ((format === 'csv' || format === 'tsv' || format === 'jsonl') && statSync(path).size === 0) {
    // An empty file holds no records: nothing to map, nothing to lose.
    return {
      relation: () => '(SELECT NULL::BIGINT AS __rec, NULL::BIGINT AS __line WHERE false)',
      access: { column: () => 'NULL::VARCHAR', text: true, names: [] },
      records: 0,
      bad: [],
      rawExpr: () => 'NULL::VARCHAR',
      notes: ['empty file'],
    };
  }
  if (format === 'csv' || format === 'tsv') {
    const delim = format === 'csv' ? ',' : '\t';
    const { scan, files } = await scanFile(format, path, cleanPath, { maxRecordBytes }, split ? SPLIT_MIN_BYTES : Infinity);
    const names = scan.header;
    const cols = ['__rec', '__line', ...names].map((n, i) => `${lit(n)}: '${i < 2 ? 'BIGINT' : 'VARCHAR'}'`).join(', ');
    const relation = () =>
      cleanFiles(
        files,
        (f) =>
          `read_csv(${lit(f)}, header = true, auto_detect = false, delim = ${lit(delim)}, quote = '"', escape = '"', ` +
          `columns = {${cols}}, strict_mode = true, max_line_size = ${Math.max(2_097_152, maxRecordBytes + 64)}, new_line = '\\n')`,
      );
    const set = new Set(names);
    return {
      relation,
      access: { column: (n) => (set.has(n) ? ident(n) : undefined), text: true, names, emptyIsNull: true },
      records: scan.records,
      bad: scan.bad,
      rawExpr: (fields) => `to_json({${fields.map((f) => `${lit(f)}: ${ident(`__in_${f}`)}`).join(', ')}})::VARCHAR`,
      notes: [
        ...(scan.renamedHeaders.length ? [`duplicate header names renamed: ${scan.renamedHeaders.join(', ')}`] : []),
        ...(scan.blankLines ? [`${scan.blankLines} blank line(s) skipped`] : []),
      ],
    };
  }
  if (format === 'jsonl') {
    const { scan, files } = await scanFile('jsonl', path, cleanPath, { maxRecordBytes }, split ? SPLIT_MIN_BYTES : Infinity);
    // One JSON parse per record: every mapped key is extracted by one call with a list of paths.
    const paths: string[] = [];
    // A JSON pointer (`/a/b`) is looked up faster than the JSONPath `$.a.b` (0.49 vs 0.69 CPU-s for
    // 11 keys on 1M records); keys that are not plain names keep the quoted JSONPath form.
    const plainKey = (k: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k);
    const jsonPath = (n: string) =>
      n.split('.').every(plainKey) ? '/' + n.split('.').join('/') : '$.' + n.split('.').map((k) => (plainKey(k) ? k : `"${k.replace(/"/g, '\\"')}"`)).join('.');
    const relation = () =>
      // Only valid documents are parsed for values (CASE evaluates its branch for those rows only;
      // try() measured 3x slower); a valid document is an object when its first non-blank character is '{'.
      // The usual object line starts with '{' and needs no ltrim; the CASE picks the text to parse
      // (NULL for an invalid document, which json_extract_string passes through) rather than the
      // list it returns, which costs less to carry.
      `(SELECT *, __valid AND CASE WHEN starts_with(__json, '{') THEN true ELSE left(ltrim(__json), 1) = '{' END AS __ok FROM ` +
      `(SELECT *, json_extract_string(CASE WHEN __valid THEN __json END, [${(paths.length ? paths : ['$.__none']).map(lit).join(', ')}]) AS __vals FROM ` +
      `(SELECT *, json_valid(__json) AS __valid FROM ` +
      cleanFiles(
        files,
        (f) =>
          `read_csv(${lit(f)}, header = false, auto_detect = false, delim = ${lit(String.fromCharCode(31))}, quote = '', escape = '', ` +
          `columns = {'__rec': 'BIGINT', '__line': 'BIGINT', '__json': 'VARCHAR'}, max_line_size = ${Math.max(2_097_152, maxRecordBytes + 64)}, new_line = '\\n')`,
      ) +
      ')))';
    return {
      relation,
      access: {
        column: (n) => {
          const p = jsonPath(n);
          let i = paths.indexOf(p);
          if (i < 0) i = paths.push(p) - 1;
          return `__vals[${i + 1}]`;
        },
        text: true,
        names: [],
      },
      records: scan.records,
      bad: scan.bad,
      rawExpr: () => '__json',
      gate: { ok: '__ok', reason: `CASE WHEN NOT __valid THEN 'invalid JSON' ELSE 'not a JSON object' END` },
      notes: scan.blankLines ? [`${scan.blankLines} blank line(s) skipped`] : [],
    };
  }
  // Typed formats: DuckDB reads the whole file (a malformed file fails here, before any commit).
  let reader: string;
  if (format === 'arrow') {
    await (await import('../io/arrow.ts')).loadArrowIpc(duck, path, `${temp}_arrow`);
    reader = ident(`${temp}_arrow`);
  } else reader = format === 'json' ? jsonReader(path, 'array') : parquetReader(path);
  try {
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(temp)} AS SELECT * FROM ${reader}`);
  } catch (e) {
    throw new InputError(`cannot read ${path} as ${format}: ${(e as Error).message.split('\n')[0]}`, { cause: e, hint: 'the file is damaged or not in this format' });
  }
  const desc = await duck.describe(ident(temp));
  const names = desc.map((d) => d.name);
  const set = new Set(names);
  const [{ n }] = (await duck.all<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${ident(temp)}`)) as [{ n: number }];
  return {
    relation: () => `(SELECT rowid + 1 AS __rec, NULL::BIGINT AS __line, * FROM ${ident(temp)})`,
    access: { column: (c) => (set.has(c) ? ident(c) : undefined), text: false, names },
    records: Number(n),
    bad: [],
    rawExpr: (fields) => `to_json({${fields.map((f) => `${lit(f)}: ${ident(`__in_${f}`)}`).join(', ')}})::VARCHAR`,
    notes: [],
  };
}

/** The clean files of a (possibly split) scan as one relation, with the record and line numbers of the whole file. */
function cleanFiles(files: CleanFile[], read: (path: string) => string): string {
  if (files.length === 1 && files[0]!.recordOffset === 0 && files[0]!.lineOffset === 0) return read(files[0]!.path);
  const one = (f: CleanFile) => `SELECT * REPLACE (__rec + ${f.recordOffset} AS __rec, __line + ${f.lineOffset} AS __line) FROM ${read(f.path)}`;
  return `(${files.map(one).join(' UNION ALL ')})`;
}

/** Streams a PostgreSQL query's result to a CSV file with COPY … TO STDOUT. */
export async function exportQuery(url: string | undefined, query: string, out: string): Promise<void> {
  if (!url) throw new ConfigError('a query source needs a PostgreSQL URL', { hint: 'set `postgres:` on the source or SLUICE_SOURCE_PG' });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = query.trim().replace(/;\s*$/, '');
    const stream = client.query(copyTo(`COPY (${q}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
    await pipe(stream, createWriteStream(out));
  } catch (e) {
    throw new InputError(`PostgreSQL query failed: ${(e as Error).message}`, { cause: e, hint: 'run the query in psql to check it' });
  } finally {
    await client.end();
  }
}
