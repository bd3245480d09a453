// The serving side's non-blocking writer: records are batched in memory and appended to an event
// log in order; when the log is slow or down, batches spill to fsync'd files and are replayed later.
// Each batch gets its entry id before its first append attempt, and a spilled batch keeps it, so a
// retry or a replay after a restart is deduplicated by the log: nothing is logged twice or lost.
import { mkdirSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { warn } from '../core/warn.ts';
import { EntryTooLargeError, type EventLog } from './event-log.ts';
import { acquireLock } from './lock.ts';
import { listSpills, quarantineSpill, readSpill, writeSpill } from './spill.ts';

export interface LogWriterOptions {
  spillDir: string;
  idPrefix: string;
  /** records held in memory before batches spill to disk (default 10,000) */
  maxBuffered?: number;
  /** records per log entry (default 1,000) */
  maxBatch?: number;
  /** a partial batch is sealed after this long (default 50 ms) */
  flushMs?: number;
  /** an append slower than this counts as failed and is retried with the same id (default 5,000 ms) */
  appendTimeoutMs?: number;
  /** flush() spills what the log has not taken after this long (default 1,000 ms) */
  flushWaitMs?: number;
}

interface Batch<R> {
  /** '' for a spilled batch from an earlier run until its file is read */
  id: string;
  count: number;
  records: R[] | null;
  /** the spill file, once it is durable */
  spill: string | null;
  spilling: boolean;
  /** an append was tried: its id is in use and it must stay as it is */
  attempted?: boolean;
  /** merged into this batch before it was spilled (it was never tried under its own id) */
  mergedInto?: Batch<R>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * @example
 * const w = await LogWriter.open(log, { spillDir: '/p/.sluice/spill/predictions', idPrefix: 'serve' });
 * w.write({ prediction_id: 'p1', ... }); await w.close();
 */
export class LogWriter<R> {
  private current: R[] = [];
  private queue: Batch<R>[] = [];
  /** records in queued batches that are in memory and not spilling */
  private held = 0;
  private spilledRecords = 0;
  private appended = 0;
  private failures = 0;
  private n = 0;
  private spillIndex = 0;
  private spillChain: Promise<void> = Promise.resolve();
  private down = false;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private wakePump: (() => void) | null = null;
  private closed = false;
  private readonly bootId = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly flushMs: number;
  private readonly appendTimeoutMs: number;
  private readonly flushWaitMs: number;

  private constructor(private readonly log: EventLog<R>, private readonly o: LogWriterOptions, private readonly release: () => void) {
    this.maxBuffered = o.maxBuffered ?? 10_000;
    this.maxBatch = o.maxBatch ?? 1_000;
    this.flushMs = o.flushMs ?? 50;
    this.appendTimeoutMs = o.appendTimeoutMs ?? 5_000;
    this.flushWaitMs = o.flushWaitMs ?? 1_000;
  }

  /** Opens the writer; first replays batches spilled by an earlier run (until done or the log fails). */
  static async open<R>(log: EventLog<R>, o: LogWriterOptions): Promise<LogWriter<R>> {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(o.idPrefix)) throw new InputError(`LogWriter idPrefix ${JSON.stringify(o.idPrefix)}: use 1–128 letters, digits, '_', '.', '-'`);
    mkdirSync(o.spillDir, { recursive: true });
    const release = await acquireLock(join(o.spillDir, 'writer.lock'), `spill folder ${o.spillDir}`);
    const w = new LogWriter(log, o, release);
    const earlier: Batch<R>[] = [];
    for (const f of listSpills(o.spillDir)) {
      earlier.push({ id: '', count: f.count, records: null, spill: f.path, spilling: false });
      w.spillIndex = f.index + 1;
      w.spilledRecords += f.count;
    }
    w.queue.push(...earlier);
    if (earlier.length) {
      w.pump();
      const failures = w.failures;
      while (w.queue.some((b) => earlier.includes(b)) && w.failures === failures) await sleep(5);
    }
    return w;
  }

  /** Queues one record; never blocks and never throws because the log is slow or down. */
  write(record: R): void {
    if (this.closed) throw new InputError('LogWriter.write after close()');
    this.current.push(record);
    if (this.current.length >= this.maxBatch) this.seal();
    else this.timer ??= setTimeout(() => this.seal(), this.flushMs);
  }

  /** Resolves when everything written so far is in the log, or spilled to disk if the log is down. */
  async flush(): Promise<void> {
    this.seal();
    let target = this.queue.at(-1);
    if (!target) return;
    const deadline = Date.now() + this.flushWaitMs;
    for (;;) {
      while (target.mergedInto) target = target.mergedInto;
      const i = this.queue.indexOf(target);
      if (i < 0 || this.queue.slice(0, i + 1).every((b) => b.spill)) return;
      if (Date.now() > deadline) this.spillPrefix(true);
      // Neither the log nor the disk takes them: say so rather than hold a shutdown forever.
      if (Date.now() > deadline + 2 * this.appendTimeoutMs) {
        warn(`log writer: ${this.stats().buffered} records are neither in the log nor spilled to ${this.o.spillDir}; they are kept in memory only`);
        return;
      }
      await sleep(5);
    }
  }

  stats(): { buffered: number; spilled: number; appended: number; appendFailures: number } {
    let buffered = this.current.length;
    for (const b of this.queue) if (b.records && !b.spill) buffered += b.count;
    return { buffered, spilled: this.spilledRecords, appended: this.appended, appendFailures: this.failures };
  }

  /** Flushes, then stops; what the log has not taken stays spilled for the next open. Does not close the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.wakePump?.();
    await this.pumping;
    await this.spillChain;
    this.release();
  }

  private seal(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.current.length) return;
    const records = this.current;
    this.current = [];
    this.queue.push({ id: `${this.o.idPrefix}-${this.bootId}-${this.n++}`, count: records.length, records, spill: null, spilling: false });
    this.held += records.length;
    this.spillPrefix(this.down);
    this.pump();
  }

  /**
   * Spills batches oldest first (all of them when `all`) until memory is under maxBuffered. Oldest
   * first, one file at a time, so the disk always holds a prefix: a crash loses only a suffix.
   */
  private spillPrefix(all: boolean): void {
    for (const b of this.queue) {
      if (!all && this.held <= this.maxBuffered) return;
      if (b.spill || b.spilling || !b.records) continue;
      b.spilling = true;
      this.held -= b.count;
      this.spillChain = this.spillChain.then(() => this.spillBatch(b));
    }
  }

  private async spillBatch(b: Batch<R>): Promise<void> {
    if (!this.queue.includes(b) || !b.records) {
      b.spilling = false; // appended or merged meanwhile
      return;
    }
    if (!b.attempted) this.absorb(b);
    let path: string;
    try {
      path = await writeSpill(this.o.spillDir, this.spillIndex++, b.id, b.records);
    } catch (e) {
      // Disk trouble: keep the batch in memory (it may still reach the log) and say so.
      b.spilling = false;
      if (this.queue.includes(b)) this.held += b.count;
      warn(`log writer: could not spill ${b.count} records to ${this.o.spillDir}: ${(e as Error).message}`);
      return;
    }
    b.spill = path;
    b.spilling = false;
    this.spilledRecords += b.count;
    if (this.queue.includes(b)) b.records = null;
    else await this.dropSpill(b); // the append won the race
  }

  /**
   * Group commit for spills: the untried batches queued to spill right behind `b` join it (up to
   * 20 × maxBatch), so a slow disk writes one file and one fsync for all that piled up meanwhile.
   */
  private absorb(b: Batch<R>): void {
    const i = this.queue.indexOf(b);
    let j = i + 1;
    let count = b.count;
    while (j < this.queue.length && count < 20 * this.maxBatch) {
      const c = this.queue[j]!;
      if (!c.spilling || c.spill || !c.records || c.attempted) break;
      count += c.count;
      j++;
    }
    if (j === i + 1) return;
    const merged = this.queue.splice(i + 1, j - i - 1);
    b.records = b.records!.concat(...merged.map((c) => c.records!));
    b.count = count;
    for (const c of merged) {
      c.mergedInto = b;
      c.records = null;
    }
  }

  private async dropSpill(b: Batch<R>): Promise<void> {
    if (!b.spill) return;
    await unlink(b.spill).catch(() => undefined);
    this.spilledRecords -= b.count;
    b.spill = null;
  }

  private pump(): void {
    this.pumping ??= this.run().finally(() => (this.pumping = null));
  }

  /** Appends the queue's head, in order; on failure spills everything and retries with backoff. */
  private async run(): Promise<void> {
    let backoff = 50;
    while (this.queue.length && !this.closed) {
      const b = this.queue[0]!;
      b.attempted = true;
      let records: R[];
      try {
        records = b.records ?? (await this.loadSpill(b));
      } catch (e) {
        this.quarantine(b, e as Error);
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.appendEntry(b.id, records),
          new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`append took over ${this.appendTimeoutMs} ms`)), this.appendTimeoutMs))),
        ]);
      } catch {
        clearTimeout(timer);
        this.failures++;
        this.down = true;
        this.spillPrefix(true);
        await new Promise<void>((r) => {
          this.wakePump = r;
          setTimeout(r, backoff);
        });
        backoff = Math.min(backoff * 2, 2_000);
        continue;
      }
      clearTimeout(timer);
      backoff = 50;
      this.down = false;
      if (b.records && !b.spill && !b.spilling) this.held -= b.count;
      b.records = null;
      await this.dropSpill(b); // before the batch counts as appended, so stats never count it twice
      this.appended += b.count;
      this.queue.shift();
    }
  }

  /**
   * Appends one batch; a batch over the log's size limit goes as parts `<id>.0`, `<id>.1`, … The
   * split depends only on the records and the limit, so a retry or replay makes the same parts.
   */
  private async appendEntry(id: string, records: R[]): Promise<void> {
    try {
      await this.log.append(id, records);
    } catch (e) {
      if (!(e instanceof EntryTooLargeError)) throw e;
      if (records.length === 1) {
        const bad = join(this.o.spillDir, 'damaged');
        mkdirSync(bad, { recursive: true });
        writeFileSync(join(bad, `${id}.json`), JSON.stringify({ id, records }));
        warn(`log writer: ${e.message}; one record alone is too large, kept in ${bad}`);
        return;
      }
      const per = Math.ceil(records.length / Math.max(2, Math.ceil((e.size / e.limit) * 1.25)));
      for (let i = 0; i * per < records.length; i++) await this.appendEntry(`${id}.${i}`, records.slice(i * per, (i + 1) * per));
    }
  }

  private async loadSpill(b: Batch<R>): Promise<R[]> {
    const { id, records } = await readSpill<R>(b.spill!);
    b.id = id;
    return records;
  }

  /** A damaged spill file is moved aside (never deleted) so a person can look at it. */
  private quarantine(b: Batch<R>, e: Error): void {
    this.queue.shift();
    const bad = quarantineSpill(this.o.spillDir, b.spill!);
    this.spilledRecords -= b.count;
    warn(`log writer: ${e.message}; moved to ${bad}`);
  }
}
