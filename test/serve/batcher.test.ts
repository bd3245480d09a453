// The batcher on its own: preferred sizes cap a batch, what queues during a run leaves when it ends,
// each job gets its own output back, drain waits for running batches, and queued jobs leave at their deadlines.
import { expect, test } from 'vitest';
import { Batcher } from '../../src/serve/batcher.ts';

function recorder(ms: number) {
  const sizes: number[] = [];
  const run = async (inputs: number[], rows: number) => {
    sizes.push(rows);
    await new Promise((r) => setTimeout(r, ms));
    return inputs.map((x) => x * 10);
  };
  return { sizes, run };
}

test('a queue reaching the largest preferred size leaves at once as that size; the rest follows when the batch ends', async () => {
  const { sizes, run } = recorder(30);
  const b = new Batcher(run, { maxBatch: 16, maxDelayUs: 10_000_000, preferred: [4, 8], queueLimit: 100 });
  const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i, 1, 5000)));
  expect(outs).toEqual(Array.from({ length: 10 }, (_, i) => i * 10));
  expect(sizes).toEqual([8, 2]);
});

test('a job larger than the maximum batch runs alone; jobs keep their order and their outputs', async () => {
  const { sizes, run } = recorder(5);
  const b = new Batcher(run, { maxBatch: 4, maxDelayUs: 0, queueLimit: 100 });
  const outs = await Promise.all([b.submit(1, 6, 5000), b.submit(2, 3, 5000), b.submit(3, 1, 5000)]);
  expect(outs).toEqual([10, 20, 30]);
  expect(sizes).toEqual([6, 4]);
});

test('drain resolves only after the running batch and the queued ones are done', async () => {
  const { sizes, run } = recorder(40);
  const b = new Batcher(run, { maxBatch: 2, maxDelayUs: 0, queueLimit: 100 });
  const jobs = [1, 2, 3, 4, 5].map((i) => b.submit(i, 1, 5000));
  let drained = false;
  const d = b.drain().then(() => (drained = true));
  await jobs[0];
  expect(drained).toBe(false);
  await d;
  expect(sizes.reduce((a, x) => a + x, 0)).toBe(5);
  expect(b.depth).toBe(0);
});

test('queued jobs leave at their own deadlines (a later job with a shorter one first); a started job finishes; the queue then runs', async () => {
  const { sizes, run } = recorder(400);
  const b = new Batcher(run, { maxBatch: 1, maxDelayUs: 0, queueLimit: 100 });
  const t0 = performance.now();
  const settle = (p: Promise<number>) => p.then((v) => ({ v, ms: performance.now() - t0 }), (e: Error) => ({ e: e.name, ms: performance.now() - t0 }));
  const started = settle(b.submit(1, 1, 20)); // runs at once: its deadline no longer applies
  const long = settle(b.submit(2, 1, 100));
  const short = settle(b.submit(3, 1, 30));
  const kept = settle(b.submit(4, 1, 5000));
  const [a, l, s, k] = await Promise.all([started, long, short, kept]);
  expect(a).toMatchObject({ v: 10 });
  expect(s).toMatchObject({ e: 'DeadlineError' });
  expect(l).toMatchObject({ e: 'DeadlineError' });
  expect(s.ms).toBeGreaterThanOrEqual(29);
  expect(s.ms).toBeLessThan(l.ms);
  expect(l.ms).toBeGreaterThanOrEqual(99);
  expect(l.ms).toBeLessThan(400); // before the running batch ended: it left the queue, it did not run
  expect(k).toMatchObject({ v: 40 });
  expect(sizes).toEqual([1, 1]);
  expect(b.depth).toBe(0);
});
