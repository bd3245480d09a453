// The file log's segment format: frames of (u32 length, u32 crc32 of the payload, payload), the
// payload JSON `{"seq":N,"id":"…","records":[…]}` in that key order; and the scan that indexes them.
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { IntegrityError } from '../core/errors.ts';
import type { LogEntry } from './event-log.ts';

export const HEADER = 8;
export const SEG = /^(\d{20})\.seg$/;
export const MAX_ID = 512;
/** Bytes of a payload that always hold its seq and id (an id, JSON-escaped, is at most 6 × MAX_ID). */
const PREFIX = 64 + 6 * MAX_ID;

export interface Segment {
  base: number;
  path: string;
  /** bytes of whole, verified frames */
  end: number;
  /** byte offset of each entry; the entry at index i has seq base + i */
  offsets: number[];
}

export function encodeFrame(json: string): Buffer {
  const len = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(HEADER + len);
  frame.write(json, HEADER, 'utf8');
  frame.writeUInt32LE(len, 0);
  frame.writeUInt32LE(crc32(frame.subarray(HEADER)), 4);
  return frame;
}

/**
 * seq and id without parsing the records: the payload starts `{"seq":N,"id":"…",` and `,"records":`
 * cannot occur inside the JSON string before it (its quotes would be escaped).
 */
export function entryKey(payload: Buffer): { seq: number; id: string } {
  const head = payload.subarray(0, Math.min(payload.length, PREFIX)).toString('utf8');
  const k = head.indexOf(',"records":');
  const parsed = JSON.parse(k > 0 ? head.slice(0, k) + '}' : payload.toString('utf8')) as { seq: number; id: string };
  return { seq: parsed.seq, id: parsed.id };
}

export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Indexes whole frames of `seg` after `seg.end` (pushing offsets, advancing `end`, calling `onEntry`);
 * stops at the first partial or unverifiable frame, which is a torn tail or one still being written.
 * In a `sealed` segment (one a writer has moved past) a large frame is indexed from its first bytes
 * alone, so opening a big log reads headers, not every record; its crc32 is checked when it is read.
 * Returns whether it found any.
 */
export async function scanSegment(fh: FileHandle, seg: Segment, logName: string, onEntry: (id: string, seq: number) => void, sealed = false): Promise<boolean> {
  const size = (await fh.stat()).size;
  const start = seg.end;
  const chunk = sealed ? 64 * 2 ** 10 : 4 * 2 ** 20;
  let buf: Buffer = Buffer.alloc(0);
  let bufAt = seg.end;
  while (seg.end + HEADER <= size) {
    let rel = seg.end - bufAt;
    if (rel + HEADER > buf.length) {
      buf = await readAt(fh, seg.end, Math.min(size - seg.end, chunk));
      bufAt = seg.end;
      rel = 0;
    }
    const len = buf.readUInt32LE(rel);
    if (seg.end + HEADER + len > size) break;
    let key: { seq: number; id: string };
    if (rel + HEADER + len <= buf.length || !sealed || len <= chunk) {
      if (rel + HEADER + len > buf.length) {
        buf = await readAt(fh, seg.end, Math.min(size - seg.end, Math.max(chunk, HEADER + len)));
        bufAt = seg.end;
        rel = 0;
      }
      const payload = buf.subarray(rel + HEADER, rel + HEADER + len);
      if (crc32(payload) !== buf.readUInt32LE(rel + 4)) break;
      key = entryKey(payload);
    } else {
      try {
        key = entryKey(await readAt(fh, seg.end + HEADER, Math.min(len, PREFIX)));
      } catch {
        break; // not an entry's start: the caller finds the gap
      }
    }
    const want = seg.base + seg.offsets.length;
    if (key.seq !== want) throw new IntegrityError(`event log ${logName}: ${seg.path} at byte ${seg.end} holds seq ${key.seq}, expected ${want}`);
    seg.offsets.push(seg.end);
    onEntry(key.id, key.seq);
    seg.end += HEADER + len;
  }
  return seg.end > start;
}

/** The entries of whole frames in `buf` (the first holds seq `first`), each checked against its crc32. */
export function parseFrames<R>(buf: Buffer, first: number, logName: string, path: string): LogEntry<R>[] {
  const out: LogEntry<R>[] = [];
  let seq = first;
  let p = 0;
  while (p < buf.length) {
    const len = buf.readUInt32LE(p);
    const payload = buf.subarray(p + HEADER, p + HEADER + len);
    if (crc32(payload) !== buf.readUInt32LE(p + 4)) throw new IntegrityError(`event log ${logName}: entry ${seq} in ${path} fails its crc32 check`);
    out.push(JSON.parse(payload.toString('utf8')) as LogEntry<R>);
    p += HEADER + len;
    seq++;
  }
  return out;
}
