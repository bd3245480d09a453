// The JetStream event log's own cases: entries over max_payload, foreign messages on the subject,
// and a stream made elsewhere with a short duplicate window.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../src/log/event-log.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';
import { LogWriter } from '../../src/log/writer.ts';
import { checkSequences, cleanup, NATS, next, readAll, root, testStream, type Rec } from './helpers.ts';

afterAll(cleanup);

describe('the JetStream event log', () => {
  it('LogWriter splits a batch over max_payload into parts and logs each record once', async () => {
    const stream = testStream();
    const log = await JetStreamEventLog.open<Rec & { pad: string }>(NATS, stream, 'big');
    const spillDir = join(root, `spill${next()}`);
    const w = await LogWriter.open(log, { spillDir, idPrefix: 'big', maxBatch: 1_000 });
    // 1,000 records of ~3 KB: about 3 MB, three times the server's default max_payload of 1 MB.
    for (let n = 0; n < 1_000; n++) w.write({ w: 'big', n, pad: 'x'.repeat(3_000) });
    await w.close();
    expect(w.stats()).toMatchObject({ appended: 1_000, spilled: 0 });
    const all = await readAll(log as unknown as EventLog<Rec>);
    expect(all.length).toBeGreaterThan(1);
    expect(all.every((e) => /^big-\w+-0\.\d+$/.test(e.id))).toBe(true);
    expect(checkSequences(all).get('big')).toBe(1_000);
    await log.close();
  });

  it('reads a message another producer published to the subject as an entry of one record', async () => {
    const stream = testStream();
    const log = await JetStreamEventLog.open<unknown>(NATS, stream, 'events');
    const { jetstream } = await import('@nats-io/jetstream');
    const { connect: natsConnect } = await import('@nats-io/transport-node');
    const nc = await natsConnect({ servers: NATS });
    const js = jetstream(nc);
    await js.publish(log.subject, JSON.stringify({ event_id: 'e1', type: 'click' }), { msgID: 'ext-1' });
    await js.publish(log.subject, 'not json');
    const own = await log.append('own', [{ a: 1 }]);
    expect(await log.read(0)).toEqual([
      { seq: 1, id: 'ext-1', records: [{ event_id: 'e1', type: 'click' }] },
      { seq: 2, id: 'nats-seq-2', records: ['not json'] },
      { seq: own.seq, id: 'own', records: [{ a: 1 }] },
    ]);
    await nc.close();
    await log.close();
  });

  it('adds its subject to a stream a product made for its own events, and reads both kinds in order', async () => {
    const stream = testStream();
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
    const { connect: natsConnect } = await import('@nats-io/transport-node');
    const nc = await natsConnect({ servers: NATS });
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [`ext.${stream}.>`] });
    await jetstream(nc).publish(`ext.${stream}.click`, JSON.stringify({ event_id: 'e1' }), { msgID: 'p-1' });
    const log = await JetStreamEventLog.open<unknown>(NATS, stream, 'events');
    expect(await log.append('ours', [{ event_id: 'e2' }])).toEqual({ seq: 2, duplicate: false });
    expect(await log.read(0)).toEqual([
      { seq: 1, id: 'p-1', records: [{ event_id: 'e1' }] },
      { seq: 2, id: 'ours', records: [{ event_id: 'e2' }] },
    ]);
    await nc.close();
    await log.close();
  });

  it('widens the duplicate window of a stream made elsewhere with a shorter one', async () => {
    const stream = testStream();
    const short = await JetStreamEventLog.open(NATS, stream, 'w', { duplicateWindowMs: 10_000 });
    await short.close();
    const log = await JetStreamEventLog.open(NATS, stream, 'w');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: NATS });
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.config.duplicate_window).toBe(2 * 3600 * 1e9);
    await nc.close();
    await log.close();
  });
});
