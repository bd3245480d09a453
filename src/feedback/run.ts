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

/** Keeps whole entries while their records fit in `budget` (always at least one entry). */
function take<R>(entries: LogEntry<R>[], budget: number): LogEntry<R>[] {
  let n = 0;
  let i = 0;
  while (i < entries.length && (i === 0 || n + entries[i]!.records.length <= budget)) n += entries[i++]!.records.length;
  return entries.slice(0, i);
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
    const p = await publish(project, join.db, dataset);
    if (p.batches) published.push(p);
    if (p.version !== null) status.versions.push(p.version);
  };
  await doPublish(); // finishes a publish a crash interrupted
  let lastPublish = Date.now();
  let lastReport = 0;
  for (;;) {
    if (options.signal?.aborted) break;
    const prog = await join.progress();
    const [preds, events] = await Promise.all([
      logs.predictions.read(prog.pred_seq, { max: 1000 }),
      logs.events.read(prog.event_seq, { max: 1000 }),
    ]);
    const input = { predictions: take(preds, budget), events: take(events, budget) };
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
    const r = await join.step(input, prog);
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
  const prog = await join.progress();
  const [ph, eh] = await Promise.all([logs.predictions.head(), logs.events.head()]);
  status.pred_seq = Number(prog.pred_seq);
  status.event_seq = Number(prog.event_seq);
  status.lag = { predictions: ph - status.pred_seq, events: eh - status.event_seq };
  return { ...status, counts: await readCounts(join.db), published };
}
