// The continuous join: reads both logs after the stored cursors in large batches, folds each batch
// in one transaction (join.ts), and publishes examples as dataset versions every `publish.every`.
// `once` drains what the logs hold, publishes and returns (for tests and scripts).
import type { EventLog, LogEntry } from '../log/event-log.ts';
import type { Project } from '../core/project.ts';
import type { FeedbackJoin, StepResult } from './join.ts';
import { publish, type Published } from './publish.ts';
import { readCounts } from './state.ts';

export interface RunOptions {
  once?: boolean;
  /** records folded per transaction, about (default 20000) */
  batchRecords?: number;
  /** how long a read waits for new entries when both logs are drained (default 200 ms) */
  waitMs?: number;
  /** stop after the current batch when aborted */
  signal?: AbortSignal;
  onProgress?: (s: RunStatus) => void;
  /** called after each committed batch (tests use it to measure latency) */
  onBatch?: (r: StepResult & { at: number }) => void;
}

export interface RunStatus {
  batches: number;
  pred_seq: number;
  event_seq: number;
  /** entries in each log not yet folded */
  lag: { predictions: number; events: number };
  watermark: number | null;
  examples: number;
  versions: number[];
}

export interface RunSummary extends RunStatus {
  counts: Record<string, number>;
  published: Published[];
}

/**
 * Reads a log ahead of the join's cursor and hands out whole entries up to a record budget. Entries
 * read but not yet folded stay buffered, so each entry is read and decoded once (re-reading a long
 * window of entries per batch and dropping most of it cost more than the join itself). The number of
 * entries per read follows the entries' size, so a read decodes about one batch.
 */
class ReadAhead<R> {
  private buf: LogEntry<R>[] = [];
  /** the seq the buffer continues from (its first entry follows it) */
  private after = -1;
  private perEntry = 100;

  constructor(private readonly log: EventLog<R>) {}

  /** Whole entries after `after` while their records fit in `budget` (at least one entry when any). */
  async take(after: number, budget: number): Promise<LogEntry<R>[]> {
    // The cursor is not where this buffer stands (first call, or the join moved elsewhere): start over.
    if (after !== this.after) {
      this.buf = [];
      this.after = after;
    }
    let have = 0;
    for (const e of this.buf) have += e.records.length;
    while (have < budget) {
      const from = this.buf.length ? this.buf[this.buf.length - 1]!.seq : after;
      const max = Math.min(1000, Math.max(1, Math.ceil((budget - have) / this.perEntry)));
      const got = await this.log.read(from, { max });
      if (!got.length) break;
      let n = 0;
      for (const e of got) n += e.records.length;
      this.perEntry = Math.max(1, n / got.length);
      this.buf.push(...got);
      have += n;
    }
    let n = 0;
    let i = 0;
    while (i < this.buf.length && (i === 0 || n + this.buf[i]!.records.length <= budget)) n += this.buf[i++]!.records.length;
    return this.buf.slice(0, i);
  }

  /** The join committed through `seq`: drop the entries folded. */
  advance(seq: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i]!.seq <= seq) i++;
    this.buf = this.buf.slice(i);
    this.after = seq;
  }
}

export async function runFeedback(
  project: Project,
  join: FeedbackJoin,
  logs: { predictions: EventLog<unknown>; events: EventLog<unknown> },
  options: RunOptions = {},
): Promise<RunSummary> {
  const budget = options.batchRecords ?? 20_000;
  const dataset = join.spec.publish.dataset;
  const status: RunStatus = { batches: 0, pred_seq: 0, event_seq: 0, lag: { predictions: 0, events: 0 }, watermark: null, examples: 0, versions: [] };
  const published: Published[] = [];
  const doPublish = async () => {
    join.clock.lap('other');
    const p = await publish(project, join.db, dataset);
    join.clock.lap('publish');
    if (p.batches) published.push(p);
    if (p.version !== null) status.versions.push(p.version);
  };
  await doPublish(); // finishes a publish a crash interrupted
  let lastPublish = Date.now();
  let lastReport = 0;
  const ahead = { predictions: new ReadAhead(logs.predictions), events: new ReadAhead(logs.events) };
  for (;;) {
    if (options.signal?.aborted) break;
    const prog = await join.progress();
    const [predictions, events] = await Promise.all([ahead.predictions.take(prog.pred_seq, budget), ahead.events.take(prog.event_seq, budget)]);
    const input = { predictions, events };
    join.clock.lap('read logs');
    if (!input.predictions.length && !input.events.length) {
      if (options.once) break;
      if (Date.now() - lastPublish >= join.spec.publish.every) {
        await doPublish();
        lastPublish = Date.now();
      }
      // Nothing to fold: wait for the events log (predictions are checked again right after).
      await logs.events.read(prog.event_seq, { max: 1, waitMs: options.waitMs ?? 200 });
      continue;
    }
    const r = await join.step(input, prog, logs.predictions);
    ahead.predictions.advance(r.pred_seq);
    ahead.events.advance(r.event_seq);
    status.batches++;
    status.examples += r.examples;
    status.pred_seq = r.pred_seq;
    status.event_seq = r.event_seq;
    status.watermark = r.watermark;
    options.onBatch?.({ ...r, at: Date.now() });
    if (!options.once && Date.now() - lastPublish >= join.spec.publish.every) {
      await doPublish();
      lastPublish = Date.now();
    }
    if (options.onProgress && Date.now() - lastReport > 1000) {
      lastReport = Date.now();
      const [ph, eh] = await Promise.all([logs.predictions.head(), logs.events.head()]);
      status.lag = { predictions: ph - r.pred_seq, events: eh - r.event_seq };
      options.onProgress({ ...status });
    }
  }
  await doPublish();
  join.clock.report('feedback run');
  const prog = await join.progress();
  const [ph, eh] = await Promise.all([logs.predictions.head(), logs.events.head()]);
  status.pred_seq = Number(prog.pred_seq);
  status.event_seq = Number(prog.event_seq);
  status.lag = { predictions: ph - status.pred_seq, events: eh - status.event_seq };
  return { ...status, counts: await readCounts(join.db), published };
}
