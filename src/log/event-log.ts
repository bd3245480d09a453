// The event log interface: an append-only, durable sequence of entries, each a batch of JSON records
// under a unique id. Two implementations pass one conformance suite (test/log/): local segment files
// (the embedded default) and NATS JetStream (file storage, shared).
//
// Promises:
// - `append` resolves only when the entry is durable (fsync'd segment / JetStream ack), and an `id`
//   already appended is not appended twice (the file log remembers every id it holds; JetStream
//   dedups by Nats-Msg-Id within its duplicate window, which sluice sets to cover a restart).
// - `seq` is a positive integer, strictly increasing in append order, never reused. Consumers get
//   exactly-once by storing the last `seq` they processed in the same SQL transaction as their output
//   and reading `after` it on restart. The log itself does not track consumers.
// - A crash while appending leaves either the whole entry or none of it.
// Not promised: ordering between two writers beyond "each writer's own entries stay in order".
import { InputError } from '../core/errors.ts';

export interface LogEntry<R = unknown> {
  seq: number;
  id: string;
  records: R[];
}

export interface AppendResult {
  seq: number;
  /** true when `id` was already in the log; `seq` is then the earlier entry's */
  duplicate: boolean;
}

export interface ReadOptions {
  /** at most this many entries (default 100) */
  max?: number;
  /** when nothing is after `after`, wait up to this long for an entry (default 0: answer at once) */
  waitMs?: number;
}

export interface EventLog<R = unknown> {
  /** e.g. 'predictions', 'events' */
  readonly name: string;
  readonly kind: 'file' | 'jetstream';
  append(id: string, records: readonly R[]): Promise<AppendResult>;
  /** entries with seq > after, in seq order */
  read(after: number, options?: ReadOptions): Promise<LogEntry<R>[]>;
  /** the highest seq in the log (0 when empty) */
  head(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Where a project's logs live: `file` — the folder holding them, each log in `<dir>/<name>/`
 * (`<project>/.sluice/logs/<name>/`); `jetstream` — the server(s), each log in the stream `stream`
 * or else `SLUICE_<NAME>`. See openEventLog (open.ts).
 */
export type EventLogSpec = { kind: 'file'; dir: string } | { kind: 'jetstream'; servers: string; stream?: string };

/** An entry over the log's size limit (JetStream: the server's max_payload); nothing was appended. LogWriter splits it. */
export class EntryTooLargeError extends InputError {
  constructor(readonly log: string, readonly id: string, readonly size: number, readonly limit: number) {
    super(`event log ${log}: entry ${id} is ${size} bytes, over the limit of ${limit}`, { hint: 'write smaller batches (LogWriter maxBatch), or raise max_payload on the NATS server' });
  }
}
