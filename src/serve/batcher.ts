// The dynamic batcher: requests queue here and leave in batches of up to `maxBatch` rows, after at
// most `maxDelayUs` of waiting (or at once when a preferred size or the maximum is reached). The
// queue is bounded in rows (a full queue rejects at once: 503), and a request whose deadline passes
// while it waits leaves the queue (504); once its batch has started it finishes.
import { DeadlineError, OverloadedError } from './errors.ts';

export interface BatchOptions {
  /** most rows in one batch (1 turns batching off) */
  maxBatch: number;
  /** longest a request waits for others, in microseconds (0: only what queued during the last run) */
  maxDelayUs: number;
  /** batch sizes to prefer: a batch leaves at once when the queue holds the largest of them */
  preferred?: number[];
  /** most rows waiting; more is rejected with 503 */
  queueLimit: number;
  /** batches running at once (1 for in-process ONNX Runtime: its threads are the parallelism) */
  concurrency?: number;
}

interface Job<I, O> {
  input: I;
  rows: number;
  resolve(o: O): void;
  reject(e: unknown): void;
  /** performance.now() past which the job leaves the queue with DeadlineError */
  deadline: number;
  timeoutMs: number;
}

/** Runs one batch: the inputs of its jobs in queue order → one output per job, in the same order. */
export type RunBatch<I, O> = (inputs: I[], rows: number) => Promise<O[]>;

export class Batcher<I, O> {
  private queue: Job<I, O>[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private idle: (() => void)[] = [];
  /** One timer for the queue's deadlines (not one per request), armed for the earliest queued deadline. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineAt = Infinity;
  private readonly dispatchAt: number;
  /** recent throughput in rows per second (an exponential average over batches), for Retry-After */
  private rowsPerSecond = 0;
  /** batch sizes in rows, for the metrics (set by the owner) */
  onBatch: (rows: number, ms: number) => void = () => {};

  constructor(private readonly run: RunBatch<I, O>, readonly options: BatchOptions) {
    const pref = [...(options.preferred ?? [])].filter((p) => p <= options.maxBatch).sort((a, b) => a - b);
    this.dispatchAt = pref.at(-1) ?? options.maxBatch;
  }

  /** Rows waiting (not yet in a running batch). */
  get depth(): number {
    return this.queuedRows;
  }

  get inFlight(): number {
    return this.running;
  }

  /**
   * Queues `rows` rows; resolves with this job's output. Rejects at once with OverloadedError when
   * the queue is full, and with DeadlineError when `deadlineMs` passes before its batch starts.
   */
  submit(input: I, rows: number, timeoutMs: number): Promise<O> {
    if (this.queuedRows + rows > this.options.queueLimit && this.queuedRows > 0) {
      return Promise.reject(new OverloadedError(`the queue holds ${this.queuedRows} rows (limit ${this.options.queueLimit})`, this.retryAfterSeconds()));
    }
    return new Promise<O>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      this.queue.push({ input, rows, resolve, reject, deadline, timeoutMs });
      this.queuedRows += rows;
      if (deadline < this.deadlineAt) this.armDeadline(deadline, timeoutMs);
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or running (a swapped-out version drains before it closes). */
  drain(): Promise<void> {
    if (!this.queue.length && !this.running) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /** How long the queue takes to drain at the recent rate, in whole seconds (at least 1). */
  private retryAfterSeconds(): number {
    if (!this.rowsPerSecond) return 1;
    return Math.max(1, Math.min(60, Math.ceil(this.queuedRows / this.rowsPerSecond)));
  }

  private armDeadline(at: number, inMs: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => this.expire(), inMs);
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = Infinity;
  }

  /** Queued jobs whose deadline has passed leave the queue (504); a job in a running batch finishes. */
  private expire(): void {
    this.deadlineTimer = undefined;
    this.deadlineAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i]!;
      if (job.deadline > now) {
        next = Math.min(next, job.deadline);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.queuedRows -= job.rows;
      job.reject(new DeadlineError(`no answer within ${job.timeoutMs} ms: the request waited in the queue (${this.queuedRows} rows still queued)`));
    }
    // Node timers keep whole milliseconds: a timer can fire a fraction early; the job waits one more.
    if (next < Infinity) this.armDeadline(next, Math.max(1, Math.ceil(next - now)));
    this.checkIdle();
  }

  private schedule(): void {
    if (this.running >= (this.options.concurrency ?? 1)) return; // the end of the running batch dispatches
    if (this.queuedRows >= this.dispatchAt || this.options.maxBatch <= 1) {
      this.dispatch();
      return;
    }
    if (this.timer || this.immediate) return;
    const us = this.options.maxDelayUs;
    // Node timers have millisecond resolution: sub-millisecond delays wait one turn of the event loop.
    if (us < 1000) this.immediate = setImmediate(() => this.fire());
    else this.timer = setTimeout(() => this.fire(), Math.round(us / 1000));
  }

  private fire(): void {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.running < (this.options.concurrency ?? 1)) this.dispatch();
  }

  private take(): Job<I, O>[] {
    // A preferred size at or under what is queued caps the batch; else the maximum does.
    const pref = (this.options.preferred ?? []).filter((p) => p <= Math.min(this.queuedRows, this.options.maxBatch));
    const cap = pref.length ? Math.max(...pref) : this.options.maxBatch;
    const out: Job<I, O>[] = [];
    let rows = 0;
    while (this.queue.length) {
      const next = this.queue[0]!;
      if (out.length && rows + next.rows > cap) break;
      this.queue.shift();
      out.push(next);
      rows += next.rows;
    }
    this.queuedRows -= rows;
    return out;
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (!this.queue.length) return;
    const jobs = this.take();
    // The jobs have started: their deadlines no longer apply (the timer waits for those still queued).
    if (!this.queue.length) this.disarmDeadline();
    const rows = jobs.reduce((a, j) => a + j.rows, 0);
    this.running++;
    const t0 = performance.now();
    this.run(
      jobs.map((j) => j.input),
      rows,
    ).then(
      (outs) => {
        const ms = performance.now() - t0;
        const rate = (rows * 1000 * (this.options.concurrency ?? 1)) / Math.max(ms, 0.01);
        this.rowsPerSecond = this.rowsPerSecond ? 0.8 * this.rowsPerSecond + 0.2 * rate : rate;
        this.onBatch(rows, ms);
        for (let i = 0; i < jobs.length; i++) jobs[i]!.resolve(outs[i]!);
      },
      (e) => {
        for (const j of jobs) j.reject(e);
      },
    ).finally(() => {
      this.running--;
      // What queued while this batch ran has already waited: send it now.
      if (this.queue.length) this.dispatch();
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.queue.length || this.running) return;
    for (const r of this.idle.splice(0)) r();
  }
}
