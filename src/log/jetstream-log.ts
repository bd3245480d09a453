// The shared event log on NATS JetStream: one stream per log (file storage, a 2 h duplicate window),
// each entry one message published with Nats-Msg-Id = the entry id, its seq the stream sequence.
// Reads go through an ordered consumer from the requested sequence; works with server 2.9.
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType, DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { InputError, RetryableError } from '../core/errors.ts';
import { EntryTooLargeError, type AppendResult, type EventLog, type LogEntry, type ReadOptions } from './event-log.ts';
import { notifyAppended, waitForAppend } from './notify.ts';

type NatsConnection = Awaited<ReturnType<typeof connect>>;

export interface JetStreamLogOptions {
  /** how long JetStream remembers an id (default 2 h: covers a restart and a replay of spilled batches) */
  duplicateWindowMs?: number;
  /** how often a waiting read asks for the stream's head (default 25 ms) */
  pollMs?: number;
  /** how long a publish waits for its ack (default 5,000 ms) */
  timeoutMs?: number;
}

interface Conn {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * @example
 * const log = await JetStreamEventLog.open('nats://127.0.0.1:4222', 'SLUICE_PREDICTIONS', 'predictions');
 * await log.append('batch-1', [{ prediction_id: 'p1' }]); // { seq: 1, duplicate: false }
 */
export class JetStreamEventLog<R = unknown> implements EventLog<R> {
  readonly kind = 'jetstream' as const;
  readonly subject: string;
  private conn: Promise<Conn> | null = null;
  private reading: Promise<unknown> = Promise.resolve();
  private cursor: { next: number; consumer: Consumer } | null = null;
  private closed = false;
  private readonly o: Required<JetStreamLogOptions>;

  private constructor(readonly servers: string, readonly stream: string, readonly name: string, o: JetStreamLogOptions) {
    this.subject = `sluice.log.${stream}`;
    this.o = { duplicateWindowMs: 2 * 3600_000, pollMs: 25, timeoutMs: 5_000, ...o };
  }

  /**
   * Opens the log; connects (and creates the stream) now if the server answers, else on first use,
   * so a NATS outage does not stop the caller from starting (a LogWriter then spills).
   */
  static async open<R>(servers: string, stream: string, name: string, o: JetStreamLogOptions = {}): Promise<JetStreamEventLog<R>> {
    const log = new JetStreamEventLog<R>(servers, stream, name, o);
    await log.ready().catch(() => undefined);
    return log;
  }

  /** Deletes the stream and everything in it (tests and `sluice` maintenance). */
  async destroy(): Promise<void> {
    const { jsm } = await this.ready();
    await jsm.streams.delete(this.stream);
  }

  async append(id: string, records: readonly R[]): Promise<AppendResult> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 512) {
      throw new InputError(`event log ${this.name}: entry id must be a string of 1–512 characters, received ${JSON.stringify(id)?.slice(0, 80)}`);
    }
    const payload = Buffer.from(JSON.stringify({ id, records }));
    const { nc, js } = await this.ready();
    // The message also carries its headers (Nats-Msg-Id): keep room for them under max_payload.
    const limit = (nc.info?.max_payload ?? Infinity) - 1024;
    if (payload.length > limit) throw new EntryTooLargeError(this.name, id, payload.length, limit);
    try {
      const ack = await js.publish(this.subject, payload, { msgID: id, timeout: this.o.timeoutMs });
      if (!ack.duplicate) notifyAppended(this.key);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      throw new RetryableError(`event log ${this.name}: publish to ${this.stream} on ${this.servers} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Reads one call at a time: they share the ordered consumer that continues where the last one stopped. */
  read(after: number, options: ReadOptions = {}): Promise<LogEntry<R>[]> {
    const next = this.reading.then(() => this.readNow(after, options));
    this.reading = next.catch(() => undefined);
    return next;
  }

  private async readNow(after: number, options: ReadOptions): Promise<LogEntry<R>[]> {
    const max = Math.max(1, options.max ?? 100);
    const from = Math.max(0, Math.floor(after)) + 1;
    const deadline = Date.now() + (options.waitMs ?? 0);
    const { js, jsm } = await this.ready();
    for (;;) {
      const { state } = await jsm.streams.info(this.stream);
      const start = Math.max(from, state.first_seq);
      if (state.last_seq >= start) {
        // An ordered consumer streams the messages (measured ~1.6× the rate of pipelined direct
        // gets); a read that continues the previous one reuses it instead of making a new one.
        const cursor = this.cursor?.next === start ? this.cursor : { next: start, consumer: await js.consumers.get(this.stream, { opt_start_seq: start, deliver_policy: DeliverPolicy.StartSequence }) };
        const out: LogEntry<R>[] = [];
        const msgs = await cursor.consumer.fetch({ max_messages: Math.min(max, state.last_seq - start + 1), expires: 5_000 });
        for await (const m of msgs) out.push(toEntry<R>(m.seq, m.data, m.headers?.get('Nats-Msg-Id')));
        this.cursor = out.length ? { next: out.at(-1)!.seq + 1, consumer: cursor.consumer } : null;
        if (out.length) return out;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return [];
      await waitForAppend(this.key, Math.min(left, this.o.pollMs));
    }
  }

  async head(): Promise<number> {
    const { jsm } = await this.ready();
    return (await jsm.streams.info(this.stream)).state.last_seq;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = await this.conn?.catch(() => null);
    await c?.nc.close();
  }

  private get key(): string {
    return `nats:${this.servers}/${this.stream}`;
  }

  private ready(): Promise<Conn> {
    if (this.closed) return Promise.reject(new InputError(`event log ${this.name} (JetStream ${this.stream}) is closed`));
    this.conn ??= this.connect().catch((e: unknown) => {
      this.conn = null; // the next call tries again
      throw new RetryableError(`event log ${this.name}: cannot reach NATS at ${this.servers}: ${(e as Error).message}`, { cause: e });
    });
    return this.conn;
  }

  private async connect(): Promise<Conn> {
    const nc = await connect({ servers: this.servers.split(','), timeout: 2_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      const jsm = await jetstreamManager(nc);
      const window = this.o.duplicateWindowMs * 1e6;
      try {
        const info = await jsm.streams.info(this.stream);
        // A stream made elsewhere (say, one a product publishes its events to) gets our subject added,
        // and a duplicate window long enough that a replay after a restart cannot duplicate.
        const subjects = info.config.subjects ?? [];
        if (info.config.duplicate_window < window || !subjects.includes(this.subject)) {
          await jsm.streams.update(this.stream, { duplicate_window: Math.max(window, info.config.duplicate_window), subjects: subjects.includes(this.subject) ? subjects : [...subjects, this.subject] });
        }
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
        await jsm.streams
          .add({ name: this.stream, subjects: [this.subject], storage: StorageType.File, duplicate_window: window, allow_direct: true })
          .catch(async (e: unknown) => {
            // Another process may have created it between our two calls.
            await jsm.streams.info(this.stream).catch(() => Promise.reject(e));
          });
      }
      return { nc, js: jetstream(nc), jsm };
    } catch (e) {
      await nc.close();
      throw e;
    }
  }
}

/**
 * A message as an entry. One that another producer published to the subject (not `{id, records}`)
 * is read as an entry of one record, its JSON value or else its text, with its Nats-Msg-Id as the
 * id (or `nats-seq-<n>`), so a consumer can validate and quarantine it instead of stopping.
 */
function toEntry<R>(seq: number, data: Uint8Array, msgId: string | undefined): LogEntry<R> {
  const text = new TextDecoder().decode(data);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: the text itself is the record
  }
  const v = value as { id?: unknown; records?: unknown } | null;
  if (v && typeof v === 'object' && typeof v.id === 'string' && Array.isArray(v.records)) return { seq, id: v.id, records: v.records as R[] };
  return { seq, id: msgId || `nats-seq-${seq}`, records: [value as R] };
}
