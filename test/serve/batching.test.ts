// Dynamic batching and overload: concurrent requests leave in one batch (the batch-size histogram
// says so), a full queue answers 503 with Retry-After, and a request whose deadline passes in the
// queue answers 504 and never reaches the model. The slow model is a real HTTP model server
// (test/model/model-server.ts) with a delay, served through proxy mode.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startModelServer, type ModelServer } from '../model/model-server.ts';
import { post, serve, serveFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
let slow: ModelServer;

beforeAll(async () => {
  fx = await serveFixture(1);
  slow = await startModelServer(join(fx.dir, 'models', 'ctr', '1', 'model.onnx'), 'ctr');
});
afterAll(async () => {
  await slow.close();
  await fx.close();
});

const one = (url: string, i: number, headers: Record<string, string> = {}) => post(`${url}/v1/models/ctr:predict`, { instances: [{ price: i, age: 30 }] }, headers);

describe('dynamic batching', () => {
  test('32 concurrent requests leave as one batch of 32 when 32 is the preferred size', async () => {
    const s = await serve(fx, { batch: { maxBatch: 64, maxDelayUs: 5_000_000, preferred: [32], queueLimit: 1024 } });
    try {
      const rs = await Promise.all(Array.from({ length: 32 }, (_, i) => one(s.url, i)));
      expect(rs.map((r) => r.status)).toEqual(new Array(32).fill(200));
      expect(s.metrics.batchSize.snapshot({ version: 'ctr@1' })).toMatchObject({ count: 1, sum: 32 });
      expect(await (await fetch(`${s.url}/metrics`)).text()).toContain('sluice_batch_size_bucket{version="ctr@1",le="32"} 1');
    } finally {
      await s.close();
    }
  });

  test('requests arriving within the queue delay share a batch; the maximum batch size splits the rest', async () => {
    const s = await serve(fx, { batch: { maxBatch: 4, maxDelayUs: 300_000, queueLimit: 1024 } });
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => one(s.url, i)));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      const snap = s.metrics.batchSize.snapshot({ version: 'ctr@1' });
      expect(snap.sum).toBe(10);
      expect(snap.count).toBe(3); // 4 + 4 + 2
      expect(snap.buckets['4']).toBe(3);
    } finally {
      await s.close();
    }
  });
});

describe('overload', () => {
  test('a full queue answers 503 with Retry-After at once, and the queued requests still succeed', async () => {
    slow.faults.delayMs = 300;
    const s = await serve(fx, { backend: { url: slow.url, protocol: 'v2' }, batch: { maxBatch: 1, maxDelayUs: 0, queueLimit: 2, concurrency: 1 } });
    try {
      const first = one(s.url, 0);
      await new Promise((r) => setTimeout(r, 50)); // the first is running, the queue is empty
      const rs = await Promise.all([first, ...Array.from({ length: 5 }, (_, i) => one(s.url, i + 1))]);
      expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 503, 503, 503]);
      const rejected = rs.find((r) => r.status === 503)!;
      expect(rejected.headers.get('retry-after')).toBe('1');
      expect(rejected.json.error).toBe('overloaded: the queue holds 2 rows (limit 2); retry after 1 s');
      expect(s.metrics.rejections.get({ reason: 'queue_full' })).toBe(3);
    } finally {
      slow.faults.delayMs = 0;
      await s.close();
    }
  });

  test('a request whose deadline passes while queued answers 504 and leaves the queue; the running one finishes', async () => {
    slow.faults.delayMs = 400;
    const s = await serve(fx, { backend: { url: slow.url, protocol: 'v2' }, batch: { maxBatch: 1, maxDelayUs: 0, queueLimit: 10, concurrency: 1 } });
    const before = slow.batchRows.length; // after the warm-up request
    try {
      const running = one(s.url, 0, { 'x-sluice-timeout-ms': '100' });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const queued = await one(s.url, 1, { 'x-sluice-timeout-ms': '100' });
      expect(queued.status).toBe(504);
      expect(Date.now() - t0).toBeLessThan(350);
      expect(queued.json.error).toMatch(/^no answer within 100 ms: the request waited in the queue/);
      expect((await running).status).toBe(200); // started before its deadline: it finishes
      await new Promise((r) => setTimeout(r, 100));
      expect(slow.batchRows.length - before).toBe(1); // the expired request never reached the model
      expect(s.metrics.rejections.get({ reason: 'deadline' })).toBe(1);
    } finally {
      slow.faults.delayMs = 0;
      await s.close();
    }
  });
});

describe('memory under overload', () => {
  test('at many times the load it can carry, the queue never holds more than its limit and every request gets 200 or 503', async () => {
    slow.faults.delayMs = 20;
    const s = await serve(fx, { backend: { url: slow.url, protocol: 'v2' }, batch: { maxBatch: 4, maxDelayUs: 0, queueLimit: 8, concurrency: 1 } });
    let deepest = 0;
    const sampler = setInterval(() => (deepest = Math.max(deepest, s.arms.current.arms[0]!.version.batcher.depth)), 1);
    try {
      const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => one(s.url, i)));
      const by = (code: number) => rs.filter((r) => r.status === code).length;
      expect(by(200) + by(503)).toBe(300);
      expect(by(503)).toBeGreaterThan(0);
      expect(deepest).toBeLessThanOrEqual(8);
      const retry = rs.find((r) => r.status === 503)!.headers.get('retry-after');
      expect(Number(retry)).toBeGreaterThanOrEqual(1);
    } finally {
      clearInterval(sampler);
      slow.faults.delayMs = 0;
      await s.close();
    }
  });
});
