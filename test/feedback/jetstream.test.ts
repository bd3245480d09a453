// JetStream as the source of both logs: a child join is SIGKILLed while producers publish (entries
// re-sent after a "lost ack" are dropped by Nats-Msg-Id, an external producer publishes bare event
// messages), and each restart re-reads (redelivery) everything after the cursor its last transaction
// stored. The published examples equal the oracle's, and a Flink-style per-key sequence check finds
// every key's events 1..N each exactly once, with one example per key.
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { openFeedbackDb } from '../../src/feedback/state.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';
import { expectOracleOutput, OracleFeed, runChild, runOracle, tempProject } from './harness.ts';
import { generate, TEST_SPEC, type GenEntry } from './gen.ts';

const t = tempProject();
const PREFIX = `FBTEST${process.pid}`;
const NATS = 'nats://127.0.0.1:4222';
const KEYS = 30;
const SEQ = 20;
const T0 = Date.UTC(2026, 10, 1);
const logs = {
  predictions: await JetStreamEventLog.open<unknown>(NATS, `${PREFIX}_PREDICTIONS`, 'predictions'),
  events: await JetStreamEventLog.open<unknown>(NATS, `${PREFIX}_EVENTS`, 'events'),
};
afterAll(async () => {
  await logs.predictions.destroy().catch(() => {});
  await logs.events.destroy().catch(() => {});
  await logs.predictions.close();
  await logs.events.close();
  t.cleanup();
});

/** Per-key sequences: prediction k<i> and its impressions 1..SEQ, shuffled, some sent twice. */
function sequences(): { preds: GenEntry; events: Record<string, unknown>[] } {
  const preds = Array.from({ length: KEYS }, (_, k) => ({ prediction_id: `k${k}`, time: T0 + k, model: 'seq', version: 1, arm: 'main', fields: { key: k }, outputs: { score: 0.5 } }));
  const events: Record<string, unknown>[] = [];
  for (let k = 0; k < KEYS; k++) for (let n = 1; n <= SEQ; n++) events.push({ event_id: `k${k}-${n}`, prediction_id: `k${k}`, type: 'impression', time: T0 + k + n * 1000, value: n });
  let s = 99;
  for (let i = events.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  return { preds: { log: 'predictions', id: 'seq-preds', records: preds }, events: [...events, ...events.filter((_, i) => i % 7 === 0)] };
}

it('joins exactly once from JetStream across consumer deaths and redelivery', async () => {
  const nc = await connect({ servers: NATS });
  const js = jetstream(nc);
  const feed = new OracleFeed(t.dir, TEST_SPEC);
  const entries = [...generate({ predictions: 4000, seed: 5, entry: 200 })];
  const seq = sequences();
  await feed.append([seq.preds], logs);
  const rounds = 6;
  const share = Math.ceil(entries.length / rounds);
  let kills = 0;
  for (let r = 0; r < rounds; r++) {
    const slice = entries.slice(r * share, (r + 1) * share);
    await feed.append(slice, logs);
    await feed.append(slice.slice(0, 3), logs); // a producer's retry: the same ids, appended once
    // an external producer: bare event messages, one record each
    for (const ev of seq.events.slice(r * 110, (r + 1) * 110)) {
      const ack = await js.publish(`sluice.log.${PREFIX}_EVENTS`, JSON.stringify(ev));
      await feed.note('events', ack.seq, [ev]);
    }
    // killed a little after its first commit of the round, so the kill lands while it folds
    if (r < rounds - 1 && (await runChild(t.dir, { afterBatchMs: (r * 7) % 20 }, PREFIX)).killed) kills++;
  }
  await nc.close();
  expect(kills).toBeGreaterThanOrEqual(3);
  expect((await runChild(t.dir, null, PREFIX)).out).toContain('"done":true');

  const project = await Project.open(t.dir);
  const db = openFeedbackDb(project);
  try {
    const duck = await project.duck();
    await runOracle(duck, TEST_SPEC, await feed.close());
    await expectOracleOutput(project, duck);
    // per-key sequence check: 1..SEQ each exactly once per key, no gaps, no extras
    const rows = await db.all<{ event_id: string; prediction_id: string }>(`SELECT event_id, prediction_id FROM fb_events WHERE prediction_id LIKE 'k%'`);
    const byKey = new Map<string, number[]>();
    for (const r of rows) byKey.set(r.prediction_id, [...(byKey.get(r.prediction_id) ?? []), Number(r.event_id.split('-')[1])]);
    expect(byKey.size).toBe(KEYS);
    for (const [, ns] of byKey) expect(ns.sort((a, b) => a - b)).toEqual(Array.from({ length: SEQ }, (_, i) => i + 1));
    const [ex] = await duck.all<{ keys: number; n: number }>(`SELECT count(DISTINCT prediction_id)::INTEGER AS keys, count(*)::INTEGER AS n FROM published WHERE prediction_id LIKE 'k%'`);
    expect(ex).toEqual({ keys: KEYS, n: KEYS });
  } finally {
    await db.close();
    await project.close();
  }
}, 300_000);
