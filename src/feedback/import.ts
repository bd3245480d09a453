// `sluice feedback import <file>`: outcome events from JSONL, CSV or Parquet appended to the `events`
// log in entries of 5000 records. Entry ids derive from the file's hash, so importing the same file
// twice appends it once. JSONL is read line by line (a bad line is kept as a record to quarantine);
// CSV and Parquet go through DuckDB.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { extname } from 'node:path';
import { sha256File } from '../core/hash.ts';
import { InputError } from '../core/errors.ts';
import type { DuckSession } from '../engine/duckdb.ts';
import { ident, lit } from '../engine/duckdb.ts';
import type { EventLog } from '../log/event-log.ts';
import { parseNdjson, prepareRecords } from './intake.ts';
import type { Scrubber } from './scrub.ts';

export interface ImportSummary {
  file: string;
  records: number;
  valid: number;
  invalid: number;
  entries: number;
  /** entries the log already had (the file was imported before) */
  duplicates: number;
}

const ENTRY = 5000;

async function* jsonl(path: string): AsyncGenerator<unknown[]> {
  let buf: string[] = [];
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    buf.push(line);
    if (buf.length >= ENTRY) yield parseNdjson(buf.splice(0).join('\n'));
  }
  if (buf.length) yield parseNdjson(buf.join('\n'));
}

async function* viaDuck(duck: DuckSession, from: string): AsyncGenerator<unknown[]> {
  const cols = await duck.describe(`SELECT * FROM ${from}`);
  // Event time as epoch ms: a TIMESTAMP column is converted in SQL (its text form has no zone).
  const select = cols.map((c) => (c.name === 'time' && c.type.startsWith('TIMESTAMP') ? `epoch_ms(${ident(c.name)}) AS time` : ident(c.name))).join(', ');
  let buf: unknown[] = [];
  for await (const b of duck.batches(`SELECT ${select} FROM ${from}`)) {
    for (let i = 0; i < b.rowCount; i++) {
      const rec: Record<string, unknown> = {};
      b.names.forEach((n, j) => {
        const v = b.columns[j]![i];
        if (v !== null && v !== undefined) rec[n] = typeof v === 'bigint' ? Number(v) : v;
      });
      buf.push(rec);
    }
    if (buf.length >= ENTRY) yield buf.splice(0, ENTRY);
  }
  while (buf.length) yield buf.splice(0, ENTRY);
}

export async function importEvents(path: string, log: EventLog<unknown>, scrub: Scrubber, duck: () => Promise<DuckSession>): Promise<ImportSummary> {
  const ext = extname(path).toLowerCase();
  const sha = await sha256File(path).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read ${path}: ${e.code ?? e.message}`, { cause: e });
  });
  let chunks: AsyncGenerator<unknown[]>;
  if (ext === '.jsonl' || ext === '.ndjson') chunks = jsonl(path);
  else if (ext === '.csv') chunks = viaDuck(await duck(), `read_csv(${lit(path)}, header = true, auto_type_candidates = ['BIGINT', 'DOUBLE', 'VARCHAR'])`);
  else if (ext === '.parquet') chunks = viaDuck(await duck(), `read_parquet(${lit(path)})`);
  else throw new InputError(`${path}: unknown event file type ${JSON.stringify(ext)}`, { hint: 'use .jsonl, .csv or .parquet' });
  const s: ImportSummary = { file: path, records: 0, valid: 0, invalid: 0, entries: 0, duplicates: 0 };
  let n = 0;
  for await (const chunk of chunks) {
    const p = prepareRecords(chunk, scrub);
    const r = await log.append(`import:${sha.slice(0, 32)}:${n++}`, p.records);
    s.records += chunk.length;
    s.valid += p.valid;
    s.invalid += p.invalid.length;
    s.entries++;
    if (r.duplicate) s.duplicates++;
  }
  return s;
}
