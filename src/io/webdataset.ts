// WebDataset shards for PyTorch image pipelines: POSIX tar files of a set number of samples, each
// sample an image file plus a JSON of its other columns under one key. A small ustar writer and
// reader (deterministic: fixed mtime, owner and mode) so shards are the same bytes for the same rows.
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DuckDBBlobValue } from '@duckdb/node-api';
import { InputError, IntegrityError, UsageError } from '../core/errors.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block for a regular file. */
export function tarHeader(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new UsageError(`tar entry name too long (${Buffer.byteLength(name)} bytes, at most 100): ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii'); // mode
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so shards are reproducible
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A tar entry: header, data, padding to the block size. */
export function tarEntry(name: string, data: Uint8Array): Buffer {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return Buffer.concat([tarHeader(name, data.length), data, Buffer.alloc(pad)]);
}

export const TAR_END = Buffer.alloc(2 * BLOCK);

/** Reads a tar file's regular files, checking each header's checksum. */
export function readTar(buf: Buffer, where = 'tar'): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  for (let at = 0; at + BLOCK <= buf.length; ) {
    const h = buf.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    const stored = parseInt(h.subarray(148, 156).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
    if (stored !== sum) throw new IntegrityError(`${where}: header at byte ${at} has checksum ${stored}, computed ${sum}`);
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push({ name, data: Buffer.from(buf.subarray(at + BLOCK, at + BLOCK + size)) });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

/** File extension of an image from its first bytes. */
export function imageExtension(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'jpg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  return 'bin';
}

export interface WebDatasetOptions {
  /** samples per shard */
  shardSize: number;
  /** column holding the image: a BLOB of its bytes, or a VARCHAR path to read */
  imageColumn: string;
}

/**
 * Writes `sql`'s rows as `outDir/shard-000000.tar`, …: per sample `<key>.<ext>` (the image) and
 * `<key>.json` (the other columns). Keys are the row's number in the export, zero-padded, so
 * repeated rows (oversampling) stay separate samples; the JSON keeps `_id`.
 */
export async function writeWebDataset(duck: DuckSession, sql: string, outDir: string, o: WebDatasetOptions): Promise<{ samples: number; shards: string[] }> {
  if (!Number.isInteger(o.shardSize) || o.shardSize < 1) throw new UsageError(`--shard-size must be a whole number ≥ 1, got ${o.shardSize}`);
  const cols = await duck.describe(`(${sql})`);
  const img = cols.find((c) => c.name === o.imageColumn);
  if (!img) throw new InputError(`image column ${JSON.stringify(o.imageColumn)} is not in the export`, { hint: `columns: ${cols.map((c) => c.name).join(', ')}; name it with --image-column` });
  if (img.type !== 'BLOB' && img.type !== 'VARCHAR') throw new InputError(`image column ${JSON.stringify(o.imageColumn)} has type ${img.type}; expected BLOB (image bytes) or VARCHAR (a file path)`);
  mkdirSync(outDir, { recursive: true });
  const x = ident(o.imageColumn);
  const row = cols.filter((c) => c !== img).map((c) => `${lit(c.name)}: ${ident(c.name)}`).join(', ');
  const result = await duck.conn.stream(`SELECT ${x} AS __img, to_json({${row}})::VARCHAR AS __json FROM (${sql})`);
  const shards: string[] = [];
  let fd: number | null = null;
  let n = 0;
  const close = () => {
    if (fd !== null) {
      writeSync(fd, TAR_END);
      closeSync(fd);
      fd = null;
    }
  };
  try {
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const [imgs, jsons] = chunk.getColumns() as [unknown[], unknown[]];
      for (let r = 0; r < chunk.rowCount; r++, n++) {
        if (n % o.shardSize === 0) {
          close();
          const name = `shard-${String(shards.length).padStart(6, '0')}.tar`;
          shards.push(name);
          fd = openSync(join(outDir, name), 'w');
        }
        const key = String(n).padStart(9, '0');
        const v = imgs[r];
        let bytes: Uint8Array | null = null;
        let ext = 'bin';
        if (v instanceof DuckDBBlobValue) [bytes, ext] = [v.bytes, imageExtension(v.bytes)];
        else if (typeof v === 'string') {
          try {
            bytes = readFileSync(v);
          } catch (e) {
            throw new InputError(`sample ${n}: cannot read image ${v}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
          }
          ext = extname(v).slice(1).toLowerCase() || imageExtension(bytes);
        }
        const parts = [...(bytes ? [tarEntry(`${key}.${ext}`, bytes)] : []), tarEntry(`${key}.json`, Buffer.from(String(jsons[r]), 'utf8'))];
        writeSync(fd!, Buffer.concat(parts));
      }
    }
  } finally {
    close();
  }
  return { samples: n, shards };
}

/** Reads WebDataset shards back as samples grouped by key (checks every tar header). */
export function readWebDataset(paths: string[]): { key: string; files: Record<string, Buffer> }[] {
  const out: { key: string; files: Record<string, Buffer> }[] = [];
  for (const p of paths) {
    for (const e of readTar(readFileSync(p), p)) {
      const dot = e.name.indexOf('.');
      const key = e.name.slice(0, dot);
      const last = out[out.length - 1];
      if (last?.key === key) last.files[e.name.slice(dot + 1)] = e.data;
      else out.push({ key, files: { [e.name.slice(dot + 1)]: e.data } });
    }
  }
  return out;
}
