// What the join reads: each log's entries after its cursor, checked into chunks of columns
// (decode.ts), a batch's worth at a time and one batch ahead. For a file log the reading, parsing
// and checking happen on a worker thread (decode-worker.js) while this thread folds the batch
// before, so the join's thread keeps to the state and the SQL: on the feedback bench these were
// about a quarter of its time. Other logs (JetStream) are read and checked on this thread.
//
// Example: const feed = new LogFeed(log, 'events', thread); const chunks = await feed.take(cursor, 20_000); … feed.advance(seq);
import { Worker } from 'node:worker_threads';
import { IntegrityError, InternalError } from '../core/errors.ts';
import type { EventLog } from '../log/event-log.ts';
import { FileEventLog, type LogRange } from '../log/file-log.ts';
import { chunkRecords, decodeEntries, type DecodedChunk, type LogName } from './decode.ts';

/** The worker thread that reads and checks file-log ranges, one job at a time, in order. */
export class DecodeThread {
  private readonly worker: Worker;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (c: DecodedChunk) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;

  constructor() {
    this.worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    this.worker.on('message', (m: { id: number; chunk?: DecodedChunk; error?: string; integrity?: boolean }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.chunk) w.resolve(m.chunk);
      else w.reject(m.integrity ? new IntegrityError(m.error!) : new InternalError(`the log reading thread failed: ${m.error}`));
      if (!this.waiting.size) this.worker.unref();
    });
    const gone = (e: Error) => {
      this.failed = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', gone);
    this.worker.on('exit', () => gone(new InternalError('the log reading thread exited')));
    this.worker.unref();
  }

  decode(log: LogName, logName: string, ranges: LogRange[]): Promise<DecodedChunk> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    this.worker.ref(); // a job we wait for keeps the process alive; an idle thread does not
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, log, logName, ranges });
    });
  }

  async close(): Promise<void> {
    this.failed ??= new InternalError('the log reading thread was closed');
    await this.worker.terminate();
  }
}

/**
 * A log read ahead of the join's cursor. `take` hands out whole chunks (each about a batch of
 * records; at least one when any is there) and starts reading the next at once; chunks stay
 * buffered until `advance` says the join committed them, so each entry is read and checked once.
 */
export class LogFeed {
  private buf: DecodedChunk[] = [];
  /** the seq the buffer continues from */
  private after = -1;
  /** a read started ahead: the seq it continues from, and its chunk (null: nothing there yet) */
  private ahead: { from: number; chunk: Promise<DecodedChunk | null> } | null = null;
  /** records per entry, as seen; 0 until the first read (which then reads one entry) */
  private perEntry = 0;

  constructor(private readonly log: EventLog<unknown>, private readonly name: LogName, private readonly thread: DecodeThread | null) {}

  private read(from: number, budget: number): Promise<DecodedChunk | null> {
    const max = this.perEntry ? Math.min(1000, Math.max(1, Math.ceil(budget / this.perEntry))) : 1;
    const chunk = (async () => {
      if (this.thread && this.log instanceof FileEventLog) {
        // Entries already indexed go to the thread at once: this thread is about to fold a batch
        // (synchronous SQL), and a read waiting on a look for new entries would wait for it.
        const known = this.log.locateKnown(from, max);
        const ranges = known.length ? known : await this.log.locate(from, max);
        return ranges.length ? this.thread.decode(this.name, this.log.name, ranges) : null;
      }
      const entries = await this.log.read(from, { max });
      return entries.length ? decodeEntries(this.name, entries) : null;
    })();
    chunk.catch(() => undefined); // a read ahead nobody takes must not be an unhandled rejection
    return chunk;
  }

  private end(): number {
    return this.buf.length ? this.buf[this.buf.length - 1]!.seqs.at(-1)! : this.after;
  }

  /** Chunks after `after` while their records fit in `budget` (at least one when any). */
  async take(after: number, budget: number): Promise<DecodedChunk[]> {
    if (after !== this.after) {
      // first call, or the join's cursor is not where this buffer stands: start over
      this.buf = [];
      this.after = after;
      this.ahead = null;
    }
    let have = 0;
    for (const c of this.buf) have += chunkRecords(c);
    while (have < budget) {
      const from = this.end();
      const early = this.ahead?.from === from ? this.ahead.chunk : null;
      this.ahead = null;
      // a read ahead that found nothing may be stale: look again
      const chunk = (await early) ?? (await this.read(from, budget - have));
      if (!chunk) break;
      const n = chunkRecords(chunk);
      this.perEntry = Math.max(1, n / chunk.seqs.length);
      this.buf.push(chunk);
      have += n;
    }
    let n = 0;
    let i = 0;
    while (i < this.buf.length && (i === 0 || n + chunkRecords(this.buf[i]!) <= budget)) n += chunkRecords(this.buf[i++]!);
    // everything buffered is handed out: read the next batch while the join folds this one
    if (i === this.buf.length && this.buf.length) this.ahead = { from: this.end(), chunk: this.read(this.end(), budget) };
    return this.buf.slice(0, i);
  }

  /** The join committed through `seq`: drop the chunks folded. */
  advance(seq: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i]!.seqs.at(-1)! <= seq) i++;
    this.buf = this.buf.slice(i);
    this.after = seq;
  }
}
