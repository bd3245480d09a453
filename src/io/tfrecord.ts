// TFRecord files of tf.train.Example records, for TensorFlow input pipelines: a tiny protobuf
// encoder for Example/Features/Feature, CRC32C framing with TensorFlow's mask, and a reader that
// checks every CRC (used to verify exports and in tests).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { DuckDBBlobValue, DuckDBListValue, type DuckDBValue } from '@duckdb/node-api';
import { IntegrityError } from '../core/errors.ts';
import { ident, type DuckSession } from '../engine/duckdb.ts';

// ---- CRC32C (Castagnoli), table-driven ----
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** @example crc32c(Buffer.from('123456789')) // 0xe3069283 */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay strong. */
export const maskCrc = (crc: number): number => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** One record: uint64 length, masked crc32c(length), data, masked crc32c(data), all little-endian. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskCrc(crc32c(out.subarray(0, 8))), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskCrc(crc32c(data)), 12 + data.length);
  return out;
}

/** Splits a TFRecord file into its records, checking both CRCs of each. */
export function readRecords(buf: Uint8Array, where = 'TFRecord'): Buffer[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < b.length; i++) {
    if (at + 12 > b.length) throw new IntegrityError(`${where}: record ${i} at byte ${at} is cut short (header)`);
    const len = Number(b.readBigUInt64LE(at));
    if (b.readUInt32LE(at + 8) !== maskCrc(crc32c(b.subarray(at, at + 8)))) throw new IntegrityError(`${where}: record ${i} at byte ${at}: length CRC mismatch`);
    if (at + 16 + len > b.length) throw new IntegrityError(`${where}: record ${i} at byte ${at} is cut short (${len} bytes announced)`);
    const data = b.subarray(at + 12, at + 12 + len);
    if (b.readUInt32LE(at + 12 + len) !== maskCrc(crc32c(data))) throw new IntegrityError(`${where}: record ${i} at byte ${at}: data CRC mismatch`);
    out.push(data);
    at += 16 + len;
  }
  return out;
}

// ---- tf.train.Example protobuf ----
export type Feature = { bytes: Uint8Array[] } | { float: number[] } | { int64: bigint[] };

function varint(n: bigint | number, out: number[]): void {
  let v = BigInt.asUintN(64, BigInt(n)); // negative int64 is ten bytes, as protobuf encodes it
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function lengthDelimited(field: number, body: Uint8Array | number[], out: number[]): void {
  varint((field << 3) | 2, out);
  varint(body.length, out);
  for (const x of body) out.push(x);
}

function encodeFeature(f: Feature): number[] {
  const list: number[] = [];
  let field: number;
  if ('bytes' in f) {
    field = 1; // BytesList { repeated bytes value = 1 }
    for (const v of f.bytes) lengthDelimited(1, v, list);
  } else if ('float' in f) {
    field = 2; // FloatList { repeated float value = 1 [packed] }
    const packed = Buffer.alloc(4 * f.float.length);
    f.float.forEach((v, i) => packed.writeFloatLE(v, 4 * i));
    if (f.float.length) lengthDelimited(1, packed, list);
  } else {
    field = 3; // Int64List { repeated int64 value = 1 [packed] }
    const packed: number[] = [];
    for (const v of f.int64) varint(v, packed);
    if (f.int64.length) lengthDelimited(1, packed, list);
  }
  const out: number[] = [];
  lengthDelimited(field, list, out);
  return out;
}

/** Example { Features features = 1 } with Features { map<string, Feature> feature = 1 }, keys in the given order. */
export function encodeExample(features: [string, Feature][]): Uint8Array {
  const map: number[] = [];
  for (const [key, f] of features) {
    const entry: number[] = [];
    lengthDelimited(1, Buffer.from(key, 'utf8'), entry);
    lengthDelimited(2, encodeFeature(f), entry);
    lengthDelimited(1, entry, map);
  }
  const out: number[] = [];
  lengthDelimited(1, map, out);
  return Uint8Array.from(out);
}

function readVarint(b: Uint8Array, at: { i: number }): bigint {
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const x = b[at.i++];
    if (x === undefined) throw new IntegrityError('protobuf: varint runs past the end');
    v |= BigInt(x & 0x7f) << shift;
    if (!(x & 0x80)) return v;
  }
}

function fields(b: Uint8Array): [number, Uint8Array | bigint][] {
  const out: [number, Uint8Array | bigint][] = [];
  const at = { i: 0 };
  while (at.i < b.length) {
    const tag = Number(readVarint(b, at));
    if ((tag & 7) === 2) {
      const len = Number(readVarint(b, at));
      out.push([tag >> 3, b.subarray(at.i, at.i + len)]);
      at.i += len;
    } else if ((tag & 7) === 0) out.push([tag >> 3, readVarint(b, at)]);
    else throw new IntegrityError(`protobuf: unexpected wire type ${tag & 7}`);
  }
  return out;
}

/** Decodes an Example into its features (the reader side of encodeExample). */
export function decodeExample(buf: Uint8Array): Record<string, Feature> {
  const out: Record<string, Feature> = {};
  for (const [, features] of fields(buf)) {
    for (const [, entry] of fields(features as Uint8Array)) {
      let key = '';
      let feature: Feature = { bytes: [] };
      for (const [n, v] of fields(entry as Uint8Array)) {
        if (n === 1) key = Buffer.from(v as Uint8Array).toString('utf8');
        else {
          const [[kind, list] = [1, new Uint8Array()]] = fields(v as Uint8Array) as [number, Uint8Array][];
          const values = fields(list).map(([, x]) => x);
          if (kind === 1) feature = { bytes: values as Uint8Array[] };
          else if (kind === 2) {
            const p = Buffer.from((values[0] as Uint8Array | undefined) ?? new Uint8Array());
            feature = { float: Array.from({ length: p.length / 4 }, (_, i) => p.readFloatLE(4 * i)) };
          } else {
            const p = (values[0] as Uint8Array | undefined) ?? new Uint8Array();
            const ints: bigint[] = [];
            const at = { i: 0 };
            while (at.i < p.length) ints.push(BigInt.asIntN(64, readVarint(p, at)));
            feature = { int64: ints };
          }
        }
      }
      out[key] = feature;
    }
  }
  return out;
}

// ---- export of a relation ----
type FeatureKind = 'int64' | 'float' | 'bytes';

/** How a DuckDB column becomes a feature: the SQL that normalizes it and the list kind. */
function featureOf(name: string, type: string): { sql: string; kind: FeatureKind } {
  const t = type.toUpperCase();
  const x = ident(name);
  const list = t.endsWith('[]');
  const base = list ? t.slice(0, -2) : t;
  if (/^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER)$/.test(base)) return { sql: `${x}::BIGINT${list ? '[]' : ''}`, kind: 'int64' };
  if (/^(FLOAT|DOUBLE|DECIMAL.*|REAL|HUGEINT|UBIGINT)$/.test(base)) return { sql: `${x}::FLOAT${list ? '[]' : ''}`, kind: 'float' };
  if (base === 'BLOB' || base === 'VARCHAR') return { sql: x, kind: 'bytes' };
  // dates, times, structs (such as _source) and maps travel as text: JSON for nested values
  return { sql: /^(STRUCT|MAP|UNION)/.test(t) || list ? `to_json(${x})::VARCHAR` : `${x}::VARCHAR`, kind: 'bytes' };
}

function toFeature(v: DuckDBValue, kind: FeatureKind): Feature | null {
  if (v === null) return null;
  const items = v instanceof DuckDBListValue ? v.items.filter((x) => x !== null) : [v];
  if (kind === 'int64') return { int64: items.map((x) => BigInt(x as bigint)) };
  if (kind === 'float') return { float: items.map((x) => Number(x)) };
  return { bytes: items.map((x) => (x instanceof DuckDBBlobValue ? x.bytes : Buffer.from(String(x), 'utf8'))) };
}

/** Writes every row of `sql` as one tf.train.Example; features in column order, NULLs left out. */
export async function writeTfRecord(duck: DuckSession, sql: string, path: string): Promise<{ records: number }> {
  const cols = await duck.describe(`(${sql})`);
  const fs = cols.map((c) => ({ name: c.name, ...featureOf(c.name, c.type) }));
  const result = await duck.conn.stream(`SELECT ${fs.map((f) => `${f.sql} AS ${ident(f.name)}`).join(', ')} FROM (${sql})`);
  const fd = openSync(path, 'w');
  let records = 0;
  try {
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const columns = chunk.getColumns();
      const frames: Buffer[] = [];
      for (let r = 0; r < chunk.rowCount; r++) {
        const feats: [string, Feature][] = [];
        fs.forEach((f, c) => {
          const feat = toFeature(columns[c]![r]!, f.kind);
          if (feat) feats.push([f.name, feat]);
        });
        frames.push(frameRecord(encodeExample(feats)));
      }
      writeSync(fd, Buffer.concat(frames));
      records += chunk.rowCount;
    }
  } finally {
    closeSync(fd);
  }
  return { records };
}

/** Reads a TFRecord file of Examples back, checking every CRC. */
export function readTfRecordFile(path: string): Record<string, Feature>[] {
  return readRecords(readFileSync(path), path).map((r) => decodeExample(r));
}
