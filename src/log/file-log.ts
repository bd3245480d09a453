// The embedded event log: segment files in one folder, each entry one framed record
// (u32 length, u32 crc32, JSON {seq,id,records}), appended with group commit (one fsync for all the
// appends that arrived meanwhile). Writers in several processes take turns: each commit holds the
// folder's writer.lock, first reads what others appended, then writes. Readers need no lock.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IntegrityError, InputError } from '../core/errors.ts';
import type { AppendResult, EventLog, LogEntry, ReadOptions } from './event-log.ts';
import { fsyncDir } from './fsync-dir.ts';
import { acquireLock } from './lock.ts';
import { notifyAppended, waitForAppend } from './notify.ts';
import { encodeFrame, MAX_ID, parseFrames, readAt, scanSegment, SEG, type Segment } from './segment.ts';

export interface FileEventLogOptions {
  /** start a new segment once the current one reaches this size (default 64 MiB) */
  segmentBytes?: number;
  /** how often a waiting read looks for appends made by another process (default 50 ms) */
  pollMs?: number;
  /** how long a commit waits for another process's commit to finish (default 5,000 ms) */
  lockWaitMs?: number;
}

/** Entries `first`, first + 1, … as whole frames at bytes [start, end) of a segment file. */
export interface LogRange {
  path: string;
  start: number;
  end: number;
  first: number;
}

interface Pending {
  id: string;
  recordsJson: string;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * @example
 * const log = await FileEventLog.open('/p/.sluice/logs/predictions', 'predictions');
 * await log.append('batch-1', [{ prediction_id: 'p1' }]); // { seq: 1, duplicate: false }
 */
export class FileEventLog<R = unknown> implements EventLog<R> {
  readonly kind = 'file' as const;
  private segments: Segment[] = [];
  private ids = new Map<string, number>();
  private pendingIds = new Map<string, Promise<AppendResult>>();
  private queue: Pending[] = [];
  private committing = false;
  /** the tail segment, open for appending, and its base */
  private tail: { base: number; fh: FileHandle } | null = null;
  private refreshing: Promise<void> | null = null;
  private turn: Promise<unknown> = Promise.resolve();
  private readers = new Map<number, FileHandle>();
  private closed = false;
  private readonly segmentBytes: number;
  private readonly pollMs: number;
  private readonly lockWaitMs: number;

  private constructor(readonly name: string, readonly dir: string, o: FileEventLogOptions) {
    this.segmentBytes = o.segmentBytes ?? 64 * 2 ** 20;
    this.pollMs = o.pollMs ?? 50;
    this.lockWaitMs = o.lockWaitMs ?? 5_000;
  }

  /** Opens (creating) the log in `dir`. */
  static async open<R>(dir: string, name: string, o: FileEventLogOptions = {}): Promise<FileEventLog<R>> {
    const abs = resolve(dir);
    mkdirSync(abs, { recursive: true });
    const log = new FileEventLog<R>(name, abs, o);
    await log.refresh();
    return log;
  }

  private get headSeq(): number {
    const last = this.segments.at(-1);
    return last ? last.base + last.offsets.length - 1 : 0;
  }

  async head(): Promise<number> {
    this.assertOpen();
    await this.refresh();
    return this.headSeq;
  }

  async append(id: string, records: readonly R[]): Promise<AppendResult> {
    this.assertOpen();
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
      throw new InputError(`event log ${this.name}: entry id must be a string of 1–${MAX_ID} characters, received ${JSON.stringify(id)?.slice(0, 80)}`);
    }
    const recordsJson = JSON.stringify(records);
    const seen = this.ids.get(id);
    if (seen !== undefined) return { seq: seen, duplicate: true };
    const pending = this.pendingIds.get(id);
    if (pending) return pending.then((r) => ({ seq: r.seq, duplicate: true }));
    const p = new Promise<AppendResult>((res, rej) => this.queue.push({ id, recordsJson, resolve: res, reject: rej }));
    this.pendingIds.set(id, p);
    void this.commitLoop();
    return p;
  }

  async read(after: number, options: ReadOptions = {}): Promise<LogEntry<R>[]> {
    this.assertOpen();
    const max = Math.max(1, options.max ?? 100);
    const from = Math.max(0, Math.floor(after)) + 1;
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      if (this.closed) return [];
      await this.refresh();
      if (this.headSeq >= from) return this.readRange(from, Math.min(this.headSeq, from + max - 1));
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return [];
      // Woken at once by an append in this process; the poll catches other processes' appends.
      await waitForAppend(this.dir, Math.min(left, this.pollMs));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.committing || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    await this.turn;
    await this.tail?.fh.close();
    this.tail = null;
    for (const fh of this.readers.values()) await fh.close();
    this.readers.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new InputError(`event log ${this.name} (${this.dir}) is closed`);
  }

  private async newSegment(base: number): Promise<Segment> {
    const path = join(this.dir, `${String(base).padStart(20, '0')}.seg`);
    closeSync(openSync(path, 'wx'));
    fsyncDir(this.dir);
    const seg: Segment = { base, path, end: 0, offsets: [] };
    this.segments.push(seg);
    return seg;
  }

  /** Group commit: every append queued while the previous fsync ran goes out in one write + one fsync. */
  private async commitLoop(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        try {
          await this.commit(batch);
        } catch (e) {
          for (const p of batch) {
            this.pendingIds.delete(p.id);
            p.reject(e);
          }
        }
      }
    } finally {
      this.committing = false;
    }
  }

  /**
   * Writes one group under the folder's lock: catch up with other writers first (their ids count as
   * duplicates), cut a torn tail a crashed writer left, roll a full segment, then write and fsync.
   */
  private async commit(batch: Pending[]): Promise<void> {
    const release = await acquireLock(join(this.dir, 'writer.lock'), `event log ${this.name} (${this.dir})`, this.lockWaitMs);
    try {
      await this.inTurn(() => this.write(batch));
    } finally {
      release();
    }
    notifyAppended(this.dir);
  }

  /** The write itself, in turn with looks (a look must not index frames this write is adding). */
  private async write(batch: Pending[]): Promise<void> {
    await this.look();
    const fresh: Pending[] = [];
    for (const p of batch) {
      const seen = this.ids.get(p.id);
      if (seen === undefined) fresh.push(p);
      else {
        this.pendingIds.delete(p.id);
        p.resolve({ seq: seen, duplicate: true });
      }
    }
    if (!fresh.length) return;
    let seg = this.segments.at(-1) ?? (await this.newSegment(1));
    let fh = await this.tailHandle(seg);
    // Whatever lies past the last whole entry was never acknowledged (a writer died mid-write): cut it.
    if ((await fh.stat()).size > seg.end) await fh.truncate(seg.end);
    if (seg.end >= this.segmentBytes) fh = await this.tailHandle((seg = await this.newSegment(this.headSeq + 1)));
    let seq = this.headSeq;
    const bufs: Buffer[] = [];
    const offsets: number[] = [];
    let pos = seg.end;
    for (const p of fresh) {
      const frame = encodeFrame(`{"seq":${++seq},"id":${JSON.stringify(p.id)},"records":${p.recordsJson}}`);
      bufs.push(frame);
      offsets.push(pos);
      pos += frame.length;
    }
    try {
      await fh.writev(bufs, seg.end);
      await fh.datasync();
    } catch (e) {
      // Leave none of it: a failed group must not reappear (with seqs reused) after a restart.
      await fh.truncate(seg.end).catch(() => undefined);
      throw e;
    }
    let s = seg.base + seg.offsets.length;
    for (let i = 0; i < fresh.length; i++) {
      const p = fresh[i]!;
      seg.offsets.push(offsets[i]!);
      this.ids.set(p.id, s);
      this.pendingIds.delete(p.id);
      p.resolve({ seq: s++, duplicate: false });
    }
    seg.end = pos;
  }

  /** Runs `fn` after every look or write already started has finished. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.turn.then(fn);
    this.turn = r.catch(() => undefined);
    return r;
  }

  private async tailHandle(seg: Segment): Promise<FileHandle> {
    if (this.tail?.base !== seg.base) {
      await this.tail?.fh.close();
      this.tail = { base: seg.base, fh: await open(seg.path, 'r+') };
    }
    return this.tail.fh;
  }

  /** Reads what other writers appended since the last look; looks and writes take turns. */
  private refresh(): Promise<void> {
    return (this.refreshing ??= this.inTurn(() => this.look()).finally(() => (this.refreshing = null)));
  }

  /** Scans the tail segment for new entries, following into segments created since. */
  private async look(): Promise<void> {
    const last = this.segments.at(-1);
    if (last) await this.scan(last);
    // Always list the folder: a writer may have grown this segment and also started the next.
    const bases = (await readdir(this.dir)).map((f) => SEG.exec(f)?.[1]).filter((b): b is string => !!b).map(Number).sort((a, b) => a - b);
    const known = this.segments.at(-1)?.base ?? 0;
    const fresh = bases.filter((b) => b > known);
    if (!fresh.length) return;
    // The writer finishes a segment before it creates the next: look at the old one once more.
    if (last) await this.scan(last);
    for (const [i, base] of fresh.entries()) {
      if (base !== this.headSeq + 1) {
        throw new IntegrityError(`event log ${this.name}: segment ${base} follows seq ${this.headSeq} in ${this.dir}; entries are missing`);
      }
      const seg: Segment = { base, path: join(this.dir, `${String(base).padStart(20, '0')}.seg`), end: 0, offsets: [] };
      this.segments.push(seg);
      await this.scan(seg, i < fresh.length - 1);
    }
  }

  /** Indexes whole frames after `seg.end`; stops at the first partial or unverifiable one. */
  private async scan(seg: Segment, sealed = false): Promise<boolean> {
    return scanSegment(await this.reader(seg), seg, this.name, (id, seq) => this.ids.set(id, seq), sealed);
  }

  private async reader(seg: Segment): Promise<FileHandle> {
    let fh = this.readers.get(seg.base);
    if (!fh) {
      fh = await open(seg.path, 'r');
      this.readers.set(seg.base, fh);
    }
    return fh;
  }

  private async readRange(from: number, to: number): Promise<LogEntry<R>[]> {
    const out: LogEntry<R>[] = [];
    for (const r of this.ranges(from, to)) out.push(...parseFrames<R>(await readAt(await this.reader(this.segmentOf(r.first)), r.start, r.end - r.start), r.first, this.name, r.path));
    return out;
  }

  /** Byte ranges of the entries from..to, one per segment they lie in. */
  private ranges(from: number, to: number): LogRange[] {
    const out: LogRange[] = [];
    let seq = from;
    while (seq <= to) {
      const seg = this.segmentOf(seq);
      const i = seq - seg.base;
      const j = Math.min(to - seg.base, seg.offsets.length - 1);
      out.push({ path: seg.path, start: seg.offsets[i]!, end: j + 1 < seg.offsets.length ? seg.offsets[j + 1]! : seg.end, first: seq });
      seq = seg.base + j + 1;
    }
    return out;
  }

  /**
   * Where the entries after `after` lie (at most `max`; none yet: []), for a reader in another
   * thread: it reads each range and parses it with parseFrames (segment.ts). Segments only grow and
   * a range covers whole, verified frames, so the bytes stay as they are while it reads.
   */
  async locate(after: number, max: number): Promise<LogRange[]> {
    this.assertOpen();
    await this.refresh();
    return this.locateKnown(after, max);
  }

  /** locate() among the entries already indexed, at once (no look for new ones). */
  locateKnown(after: number, max: number): LogRange[] {
    this.assertOpen();
    const from = Math.max(0, Math.floor(after)) + 1;
    return this.headSeq >= from ? this.ranges(from, Math.min(this.headSeq, from + Math.max(1, max) - 1)) : [];
  }

  private segmentOf(seq: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.base <= seq) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo]!;
  }
}
