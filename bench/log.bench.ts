// bench/log: records/s appended through LogWriter (batches of 1,000 prediction records) to the file
// log and to JetStream, each beside a bare anchor writing the same bytes in the same run
// (appendFileSync + fsync per batch / one awaited JetStream publish per batch); and JetStream reads
// through JetStreamEventLog.read (100 entries per call) beside a bare ordered consumer.
import { closeSync, fsyncSync, mkdirSync, openSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { PredictionRecord } from '../src/feedback/records.ts';
import type { EventLog } from '../src/log/event-log.ts';
import { FileEventLog } from '../src/log/file-log.ts';
import { JetStreamEventLog } from '../src/log/jetstream-log.ts';
import { LogWriter } from '../src/log/writer.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

const NATS = process.env.SLUICE_BENCH_NATS ?? 'nats://127.0.0.1:4222';
const BATCH = 1_000;

function record(i: number): PredictionRecord {
  return {
    prediction_id: `p-${i.toString(36).padStart(8, '0')}`,
    time: 1_764_000_000_000 + i,
    model: 'ctr',
    version: 3,
    arm: i % 10 ? 'main' : 'b',
    key: `user-${i % 50_000}`,
    fields: { ad: `ad-${i % 997}`, price: (i % 1000) / 10, country: 'DE', hour: i % 24 },
    outputs: { score: (i % 1000) / 1000 },
  };
}

/** Writes `records` through a LogWriter and closes it: everything durable in the log. */
async function throughWriter(log: EventLog<PredictionRecord>, records: PredictionRecord[], spillDir: string, prefix: string): Promise<void> {
  // The whole burst fits the buffer: what is measured is the append rate, not the spill path.
  const w = await LogWriter.open(log, { spillDir, idPrefix: prefix, maxBatch: BATCH, maxBuffered: records.length, flushWaitMs: 600_000 });
  for (const r of records) w.write(r);
  await w.close();
  if (w.stats().spilled) throw new Error(`bench: ${w.stats().spilled} records spilled; the log did not keep up`);
}

function payloads(records: PredictionRecord[], prefix: string): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < records.length; i += BATCH) out.push(Buffer.from(JSON.stringify({ id: `${prefix}-${i}`, records: records.slice(i, i + BATCH) })));
  return out;
}

export const bench: Bench = {
  name: 'event log: LogWriter appends (file, JetStream) and JetStream reads',
  async run({ dir, repeats, quick, log }): Promise<Measure[]> {
    const n = quick ? 50_000 : 300_000;
    const records = Array.from({ length: n }, (_, i) => record(i));
    const out: Measure[] = [];

    const fileRun = await timePair(
      repeats,
      async (i) => {
        const f = join(dir, `anchor-${i}.log`);
        const fd = openSync(f, 'a');
        for (const p of payloads(records, `a${i}`)) {
          appendFileSync(fd, p);
          fsyncSync(fd);
        }
        closeSync(fd);
        rmSync(f);
      },
      async (i) => {
        const d = join(dir, `file-${i}`);
        const l = await FileEventLog.open<PredictionRecord>(join(d, 'log'), 'predictions');
        await throughWriter(l, records, join(d, 'spill'), `b${i}`);
        await l.close();
        rmSync(d, { recursive: true });
      },
    );
    log(`file: LogWriter ${fileRun.oursRuns.map((s) => (n / s).toFixed(0)).join(', ')} rec/s; bare ${fileRun.anchorRuns.map((s) => (n / s).toFixed(0)).join(', ')} rec/s`);
    out.push({ name: `LogWriter → FileEventLog, ${n.toLocaleString('en')} prediction records in batches of ${BATCH}`, unit: 'records/s', ours: n / fileRun.ours, anchor: n / fileRun.anchor, anchorName: 'appendFileSync + fsync of the same bytes' });

    const nc = await connect({ servers: NATS });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const stream = `SLUICE_BENCH_${process.pid}`;
    const jlog = await JetStreamEventLog.open<PredictionRecord>(NATS, stream, 'predictions');
    try {
      const jsRun = await timePair(
        repeats,
        async (i) => {
          for (const p of payloads(records, `a${i}`)) await js.publish(jlog.subject, p, { msgID: `${stream}-a${i}-${p.length}-${Math.random()}` });
        },
        async (i) => {
          mkdirSync(join(dir, `js-${i}`), { recursive: true });
          await throughWriter(jlog, records, join(dir, `js-${i}`), `b${i}`);
        },
      );
      log(`jetstream: LogWriter ${jsRun.oursRuns.map((s) => (n / s).toFixed(0)).join(', ')} rec/s; bare ${jsRun.anchorRuns.map((s) => (n / s).toFixed(0)).join(', ')} rec/s`);
      out.push({ name: `LogWriter → JetStreamEventLog, ${n.toLocaleString('en')} prediction records in batches of ${BATCH}`, unit: 'records/s', ours: n / jsRun.ours, anchor: n / jsRun.anchor, anchorName: 'awaited js.publish of the same payloads' });

      // Reads: every entry in the stream, 100 entries per read() call, against an ordered consumer.
      const head = await jlog.head();
      const readRun = await timePair(
        repeats,
        async () => {
          const c = await js.consumers.get(stream, { opt_start_seq: 1, deliver_policy: DeliverPolicy.StartSequence });
          const it = await c.consume({ max_messages: 200 });
          for await (const m of it) {
            m.json();
            if (m.seq >= head) break;
          }
        },
        async () => {
          for (let after = 0; after < head; ) {
            const got = await jlog.read(after, { max: 100 });
            after = got.at(-1)!.seq;
          }
        },
      );
      out.push({ name: `JetStreamEventLog.read of ${head} entries (${BATCH} records each), 100 per call`, unit: 'entries/s', ours: head / readRun.ours, anchor: head / readRun.anchor, anchorName: 'ordered consumer (consume)' });
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
      await jlog.close();
      await nc.close();
    }
    return out;
  },
};
