// The LogWriter's spill files: one framed JSON batch (u32 length, u32 crc32, {id, records}) per
// file, named <index>-<records>.spill so a restart knows their order and size without reading them;
// written to a .tmp, fsync'd and renamed, so a file either is whole or does not exist.
import { mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { IntegrityError } from '../core/errors.ts';
import { fsyncDir } from './fsync-dir.ts';

const SPILL = /^(\d{12})-(\d+)\.spill$/;

/** The spill files in `dir`, oldest first; deletes .tmp files (their batch was still in memory). */
export function listSpills(dir: string): { path: string; index: number; count: number }[] {
  const out = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.tmp')) unlinkSync(join(dir, f));
    const m = SPILL.exec(f);
    if (m) out.push({ path: join(dir, f), index: Number(m[1]), count: Number(m[2]) });
  }
  return out;
}

/** Writes one batch durably as spill file number `index`; returns its path. */
export async function writeSpill(dir: string, index: number, id: string, records: readonly unknown[]): Promise<string> {
  const path = join(dir, `${String(index).padStart(12, '0')}-${records.length}.spill`);
  const json = Buffer.from(JSON.stringify({ id, records }));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(json.length, 0);
  head.writeUInt32LE(crc32(json), 4);
  const fh = await open(`${path}.tmp`, 'w');
  try {
    await fh.writev([head, json]);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  renameSync(`${path}.tmp`, path);
  fsyncDir(dir);
  return path;
}

/** Reads a spill file back; IntegrityError when it cannot be read or fails its checks. */
export async function readSpill<R>(path: string): Promise<{ id: string; records: R[] }> {
  const buf = await readFile(path).catch((e: unknown) => {
    throw new IntegrityError(`spill file ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  });
  const len = buf.length >= 8 ? buf.readUInt32LE(0) : -1;
  const json = buf.subarray(8, 8 + Math.max(len, 0));
  if (len < 0 || json.length !== len || crc32(json) !== buf.readUInt32LE(4)) throw new IntegrityError(`spill file ${path} is damaged (length or crc32 mismatch)`);
  try {
    return JSON.parse(json.toString('utf8')) as { id: string; records: R[] };
  } catch (e) {
    throw new IntegrityError(`spill file ${path} is not the JSON it should be: ${(e as Error).message}`, { cause: e });
  }
}

/** Moves a damaged spill file to `dir`/damaged (never deletes it, so a person can look); returns that folder. */
export function quarantineSpill(dir: string, path: string): string {
  const bad = join(dir, 'damaged');
  mkdirSync(bad, { recursive: true });
  try {
    renameSync(path, join(bad, basename(path)));
  } catch {
    // already gone: the caller's warning is all that is left to do
  }
  return bad;
}
