// The join's log feed (feed.ts): chunks read and checked on the worker thread equal those checked
// on this thread, across segment boundaries and with invalid records; a damaged frame fails the
// read with the log's IntegrityError instead of being skipped.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.ts';
import { chunkShapes, decodeEntries, type DecodedChunk } from '../../src/feedback/decode.ts';
import { DecodeThread, LogFeed } from '../../src/feedback/feed.ts';
import { FileEventLog } from '../../src/log/file-log.ts';

const root = mkdtempSync(join(tmpdir(), 'sluice-feed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pred = (i: number) => ({ prediction_id: `p${i}`, time: 1_000 + i, model: 'ctr', version: 1, arm: 'main', fields: i % 2 ? { ad: `a${i}` } : { ad: `a${i}`, bid: i / 4 }, outputs: { score: i / 100 } });

/** Everything `feed` hands out from the start, folding each batch at once. */
async function drain(feed: LogFeed, budget: number): Promise<DecodedChunk[]> {
  const out: DecodedChunk[] = [];
  let at = 0;
  for (;;) {
    const got = await feed.take(at, budget);
    if (!got.length) return out;
    out.push(...got);
    at = got.at(-1)!.seqs.at(-1)!;
    feed.advance(at);
  }
}

/** A chunk as plain values (typed arrays as lists, shapes as this thread's fields lists). */
const plain = (cs: DecodedChunk[]) =>
  cs.map((c) => ({ seqs: c.seqs, counts: c.counts, ok: [...c.ok], bad: c.bad, id: c.predictions!.id.filter((_, k) => c.ok[k]), tp: [...c.predictions!.tp], fields: c.predictions!.fields, shapes: chunkShapes(c.predictions!).map((s) => s.fields) }));

it('reads and checks a file log on the worker thread exactly as on this thread', async () => {
  const dir = join(root, 'log');
  const log = await FileEventLog.open<unknown>(dir, 'predictions', { segmentBytes: 2_000 });
  let i = 0;
  for (let e = 0; e < 12; e++) {
    const recs: unknown[] = [];
    for (let r = 0; r < 7; r++, i++) recs.push(i % 10 === 3 ? { prediction_id: '', time: 1 } : i % 10 === 6 ? 'not an object' : pred(i));
    await log.append(`e${e}`, recs);
  }
  expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(2);
  const thread = new DecodeThread();
  try {
    const viaThread = await drain(new LogFeed(log, 'predictions', thread), 20);
    const inline = await drain(new LogFeed(log, 'predictions', null), 20);
    expect(viaThread.flatMap((c) => c.seqs)).toEqual(Array.from({ length: 12 }, (_, k) => k + 1));
    expect(plain(viaThread)).toEqual(plain(inline));
    const all = decodeEntries('predictions', await log.read(0, { max: 100 }));
    expect(all.ok.length).toBe(84);
    expect(all.bad.map((b) => [b.k, b.reason])).toEqual(
      Array.from({ length: 84 }, (_, k) => k)
        .filter((k) => k % 10 === 3 || k % 10 === 6)
        .map((k) => [k, k % 10 === 3 ? 'prediction_id: expected a non-empty string' : 'not an object']),
    );
    expect(viaThread.flatMap((c) => c.bad.map((b) => b.json)).slice(0, 2)).toEqual(['{"prediction_id":"","time":1}', '"not an object"']);
  } finally {
    await thread.close();
    await log.close();
  }
});

it('fails a read of a damaged frame with IntegrityError, on the thread as on this thread', async () => {
  const dir = join(root, 'damaged');
  const log = await FileEventLog.open<unknown>(dir, 'events');
  await log.append('a', [{ event_id: 'e1', prediction_id: 'p1', type: 'click', time: 5 }]);
  await log.append('b', [{ event_id: 'e2', prediction_id: 'p2', type: 'click', time: 6 }]);
  await log.close();
  // indexed while whole, then a byte of the first record changes: the read must notice
  const again = await FileEventLog.open<unknown>(dir, 'events');
  expect(await again.head()).toBe(2);
  const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.seg'))!);
  const bytes = readFileSync(seg);
  bytes[bytes.indexOf('p1') + 1] = '9'.charCodeAt(0);
  writeFileSync(seg, bytes);
  const thread = new DecodeThread();
  try {
    const err = await new LogFeed(again, 'events', thread).take(0, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/entry 1 in .*fails its crc32 check/);
    await expect(new LogFeed(again, 'events', null).take(0, 100)).rejects.toThrow(/entry 1 in .*fails its crc32 check/);
  } finally {
    await thread.close();
    await again.close();
  }
});
