// The prediction log: every answered prediction (TF instances, v2 rows, ranked answers, shadow
// copies) reaches the event log exactly once, with exact counts, across a server restart, on both
// log implementations (segment files and NATS JetStream). Rejected requests log nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PredictionRecord } from '../../src/feedback/records.ts';
import type { EventLog, EventLogSpec } from '../../src/log/event-log.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';
import { openEventLog } from '../../src/log/open.ts';
import { LogWriter } from '../../src/log/writer.ts';
import { post, serve, serveFixture, type ServeFixture } from './fixture.ts';

const NATS = process.env.SLUICE_TEST_NATS ?? 'nats://127.0.0.1:4222';
const STREAM = `SLUICE_TEST_SERVE_${process.pid}_${Date.now()}`;
let fx: ServeFixture;

beforeAll(async () => {
  fx = await serveFixture(2);
});
afterAll(async () => {
  const js = await JetStreamEventLog.open(NATS, STREAM, 'predictions');
  await js.destroy().catch(() => undefined);
  await js.close();
  await fx.close();
});

async function readAll(log: EventLog<PredictionRecord>): Promise<PredictionRecord[]> {
  const out: PredictionRecord[] = [];
  let after = 0;
  for (;;) {
    const entries = await log.read(after, { max: 500 });
    if (!entries.length) return out;
    for (const e of entries) out.push(...e.records);
    after = entries.at(-1)!.seq;
  }
}

/** One server run: mixed traffic, concurrently; returns the prediction ids the clients were given. */
async function run(spec: EventLogSpec, spillDir: string, salt: number): Promise<{ served: string[] }> {
  const log = await openEventLog<PredictionRecord>(spec, 'predictions');
  const writer = await LogWriter.open(log, { spillDir, idPrefix: 'serve', flushMs: 10, maxBatch: 64 });
  const s = await serve(fx, { model: 'ctr@1', shadow: 'ctr@2', log: writer });
  const served: string[] = [];
  try {
    const tf = Array.from({ length: 40 }, (_, i) => post(`${s.url}/v1/models/ctr:predict`, { instances: Array.from({ length: 1 + (i % 5) }, (_, k) => ({ price: salt + i + k })) }));
    const v2 = Array.from({ length: 10 }, () => post(`${s.url}/v2/models/ctr/infer`, { inputs: [{ name: 'x', shape: [3, 4], datatype: 'FP32', data: Array.from({ length: 12 }, (_, k) => k) }] }));
    const rank = Array.from({ length: 5 }, (_, i) => post(`${s.url}/v1/models/ctr:rank`, { context: { age: i }, candidates: [{ candidate_id: 'a', price: 1 }, { candidate_id: 'b', price: 2 }] }));
    const bad = Array.from({ length: 5 }, () => post(`${s.url}/v1/models/ctr:predict`, { instances: [{ price: 1e39 }] }));
    for (const r of await Promise.all(tf)) served.push(...r.json.prediction_ids);
    for (const r of await Promise.all(v2)) served.push(...r.json.parameters.prediction_ids);
    for (const r of await Promise.all(rank)) served.push(r.json.prediction_id);
    expect((await Promise.all(bad)).map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
  } finally {
    await s.close();
    await writer.close();
    await log.close();
  }
  return { served };
}

describe.each([
  ['segment files', (dir: string): EventLogSpec => ({ kind: 'file', dir: join(dir, 'logs') })],
  ['NATS JetStream', (): EventLogSpec => ({ kind: 'jetstream', servers: NATS, stream: STREAM })],
])('on %s', (_name, specOf) => {
  test('every answered prediction is logged exactly once, with its shadow copy, across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-log-'));
    const spec = specOf(dir);
    const spill = join(dir, 'spill');
    const first = await run(spec, spill, 0);
    const second = await run(spec, spill, 1000);
    // 40 TF requests of 1..5 instances (120), 10 v2 requests of 3 rows (30), 5 ranked answers: 155 a run.
    expect([first.served.length, second.served.length]).toEqual([155, 155]);
    const log = await openEventLog<PredictionRecord>(spec, 'predictions');
    try {
      const records = await readAll(log);
      const main = records.filter((r) => !r.shadow);
      const shadow = records.filter((r) => r.shadow);
      const served = [...first.served, ...second.served];
      expect(main).toHaveLength(310);
      expect(new Set(main.map((r) => r.prediction_id))).toEqual(new Set(served));
      expect(shadow).toHaveLength(310);
      expect(new Set(shadow.map((r) => r.prediction_id))).toEqual(new Set(served.map((id) => `${id}/shadow`)));
      expect(main.every((r) => r.model === 'ctr' && r.version === 1 && r.arm === 'main' && typeof r.time === 'number')).toBe(true);
      expect(main.filter((r) => r.shown).map((r) => r.shown!.map((x) => x.position))).toEqual(new Array(10).fill([0, 1]));
    } finally {
      await log.close();
    }
  });
});

test('with the log down, answers are not held up: predictions spill to disk and reach JetStream exactly once when it is back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-log-'));
  const spillDir = join(dir, 'spill');
  const stream = `${STREAM}_DOWN`;
  const down = await JetStreamEventLog.open<PredictionRecord>('nats://127.0.0.1:1', stream, 'predictions', { timeoutMs: 300 });
  const writer = await LogWriter.open(down, { spillDir, idPrefix: 'serve', flushMs: 10, appendTimeoutMs: 300, flushWaitMs: 300 });
  const s = await serve(fx, { model: 'ctr@1', log: writer });
  const served: string[] = [];
  try {
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => post(`${s.url}/v1/models/ctr:predict`, { instances: [{ price: i }, { price: -i }] })));
    expect(rs.map((r) => r.status)).toEqual(new Array(30).fill(200));
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const r of rs) served.push(...r.json.prediction_ids);
  } finally {
    await s.close();
    await writer.close();
    await down.close();
  }
  expect(writer.stats().appended).toBe(0);
  const up = await JetStreamEventLog.open<PredictionRecord>(NATS, stream, 'predictions');
  try {
    const replay = await LogWriter.open(up, { spillDir, idPrefix: 'serve' });
    await replay.close();
    const ids = (await readAll(up)).map((r) => r.prediction_id);
    expect(ids).toHaveLength(60);
    expect(new Set(ids)).toEqual(new Set(served));
  } finally {
    await up.destroy().catch(() => undefined);
    await up.close();
  }
});
