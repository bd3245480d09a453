// Arrow IPC files: DuckDB has no built-in IPC reader, so batches move through apache-arrow and
// DuckDB's appender (reading) or DuckDB chunks into Arrow builders (writing).
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import {
  Bool, DataType, DateDay, Float64, Int64, RecordBatchReader, RecordBatchStreamWriter, Schema, Field, TimestampMicrosecond, Utf8,
  makeBuilder, RecordBatch, makeData, Struct, type Builder,
} from 'apache-arrow';
import { DuckDBTimestampValue, DuckDBDateValue } from '@duckdb/node-api';
import { InputError } from '../core/errors.ts';
import { type DuckSession, ident } from '../engine/duckdb.ts';

function duckType(t: DataType): string {
  if (DataType.isInt(t)) return 'BIGINT';
  if (DataType.isFloat(t) || DataType.isDecimal(t)) return 'DOUBLE';
  if (DataType.isBool(t)) return 'BOOLEAN';
  if (DataType.isTimestamp(t)) return 'TIMESTAMP';
  if (DataType.isDate(t)) return 'DATE';
  return 'VARCHAR';
}

/** Loads an Arrow IPC file (file or stream format) into a new DuckDB table, in file order. */
export async function loadArrowIpc(session: DuckSession, path: string, table: string): Promise<number> {
  let reader: RecordBatchReader;
  try {
    reader = await RecordBatchReader.from(createReadStream(path));
    await reader.open();
  } catch (e) {
    throw new InputError(`${path}: not a readable Arrow IPC file (${(e as Error).message})`, { cause: e, hint: 'check the file is Arrow IPC (file or stream format)' });
  }
  const fields = reader.schema.fields;
  const cols = fields.map((f) => `${ident(f.name)} ${duckType(f.type)}`).join(', ');
  await session.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} (${cols})`);
  const appender = await session.conn.createAppender(table);
  let rows = 0;
  for await (const batch of reader) {
    const vectors = fields.map((_, i) => batch.getChildAt(i));
    for (let r = 0; r < batch.numRows; r++) {
      for (let c = 0; c < fields.length; c++) {
        const v = vectors[c]?.get(r);
        const t = fields[c]!.type;
        if (v === null || v === undefined) appender.appendNull();
        else if (DataType.isInt(t)) appender.appendBigInt(BigInt(v as number | bigint));
        else if (DataType.isFloat(t) || DataType.isDecimal(t)) appender.appendDouble(Number(v));
        else if (DataType.isBool(t)) appender.appendBoolean(Boolean(v));
        else if (DataType.isTimestamp(t)) appender.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.round(Number(v) * 1000))));
        else if (DataType.isDate(t)) appender.appendDate(new DuckDBDateValue(Math.floor(Number(v) / 86_400_000)));
        else appender.appendVarchar(typeof v === 'string' ? v : JSON.stringify(v));
      }
      appender.endRow();
    }
    rows += batch.numRows;
  }
  appender.closeSync();
  return rows;
}

function arrowType(duck: string): DataType {
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(duck)) return new Int64();
  if (/^(FLOAT|DOUBLE|DECIMAL.*|HUGEINT)$/.test(duck)) return new Float64();
  if (duck === 'BOOLEAN') return new Bool();
  if (duck.startsWith('TIMESTAMP')) return new TimestampMicrosecond();
  if (duck === 'DATE') return new DateDay();
  return new Utf8();
}

/** Writes a query's result as an Arrow IPC stream file, one record batch per DuckDB chunk. */
export async function writeArrowIpc(session: DuckSession, sql: string, path: string): Promise<number> {
  const desc = await session.describe(`(${sql})`);
  const schema = new Schema(desc.map((d) => new Field(d.name, arrowType(d.type), true)));
  const cast = desc
    .map((d) => {
      const t = arrowType(d.type);
      const id = ident(d.name);
      if (t instanceof Int64) return `CAST(${id} AS BIGINT) AS ${id}`;
      if (t instanceof Float64) return `CAST(${id} AS DOUBLE) AS ${id}`;
      if (t instanceof TimestampMicrosecond) return `epoch_ms(${id}) AS ${id}`;
      if (t instanceof DateDay) return `epoch_ms(CAST(${id} AS TIMESTAMP)) AS ${id}`;
      if (t instanceof Utf8 && d.type !== 'VARCHAR') return `CAST(${id} AS VARCHAR) AS ${id}`;
      return id;
    })
    .join(', ');
  const writer = new RecordBatchStreamWriter();
  const out = createWriteStream(path);
  const piped = writer.toNodeStream();
  piped.pipe(out);
  let rows = 0;
  for await (const b of session.batches(`SELECT ${cast} FROM (${sql})`)) {
    const children = schema.fields.map((f, i) => {
      const builder: Builder = makeBuilder({ type: f.type, nullValues: [null, undefined] });
      for (const v of b.columns[i]!) builder.append(f.type instanceof Int64 && v !== null ? BigInt(v as number) : v);
      return builder.finish().toVector().data[0]!;
    });
    const data = makeData({ type: new Struct(schema.fields), length: b.rowCount, nullCount: 0, children });
    writer.write(new RecordBatch(schema, data));
    rows += b.rowCount;
  }
  writer.finish();
  await once(out, 'finish');
  return rows;
}
