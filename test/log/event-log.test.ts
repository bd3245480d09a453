// One conformance suite for both event logs (segment files and NATS JetStream), and the LogWriter
// on each: order, dedup, waiting reads, restart, spill and replay, recovery, SIGKILL.
import { readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog, EventLogSpec } from '../../src/log/event-log.ts';
import { FileEventLog } from '../../src/log/file-log.ts';
import { openEventLog } from '../../src/log/open.ts';
import { LogWriter } from '../../src/log/writer.ts';
import { checkSequences, child, cleanup, freePort, holdLock, NATS, next, proxies, readAll, root, testStream, type Rec } from './helpers.ts';

afterAll(cleanup);

interface Impl {
  kind: 'file' | 'jetstream';
  /** a fresh, empty log's spec and name */
  fresh(): { spec: EventLogSpec; name: string };
  /** a log that refuses appends, and a way to make the real one take them again */
  unavailable(spec: EventLogSpec, name: string): Promise<{ log: EventLog<Rec>; restore(): Promise<void> }>;
}

const impls: Impl[] = [
  {
    kind: 'file',
    fresh: () => ({ spec: { kind: 'file', dir: join(root, `logs${next()}`) }, name: 'predictions' }),
    // A live process holds the folder's lock and never lets go: commits fail until it is gone.
    async unavailable(spec, name) {
      const dir = join((spec as Extract<EventLogSpec, { kind: 'file' }>).dir, name);
      const holder = holdLock(dir);
      return { log: await FileEventLog.open<Rec>(dir, name, { lockWaitMs: 100 }), restore: async () => void holder.kill('SIGKILL') };
    },
  },
  {
    kind: 'jetstream',
    fresh: () => ({ spec: { kind: 'jetstream', servers: NATS, stream: testStream() }, name: 'predictions' }),
    // The log's URL is a TCP proxy to the server that does not listen yet: connecting fails until it does.
    async unavailable(spec, name) {
      const s = spec as Extract<EventLogSpec, { kind: 'jetstream' }>;
      const port = await freePort();
      const proxy = createServer((sock) => {
        const up = connect(Number(new URL(NATS).port), '127.0.0.1');
        sock.pipe(up).pipe(sock);
        sock.on('error', () => up.destroy());
        up.on('error', () => sock.destroy());
      });
      proxies.push(proxy);
      return {
        log: await openEventLog<Rec>({ ...s, servers: `nats://127.0.0.1:${port}` }, name),
        restore: () => new Promise<void>((res) => proxy.listen(port, '127.0.0.1', res)),
      };
    },
  },
];


describe.each(impls)('the $kind event log', (impl) => {
  it('reads entries back in append order with strictly increasing seqs', async () => {
    const { spec, name } = impl.fresh();
    const log = await openEventLog<Rec>(spec, name);
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await log.append(`e${i}`, [{ w: 'a', n: i }, { w: 'b', n: i }]));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    const all = await readAll(log);
    expect(all.map((e) => e.id)).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`));
    expect(all.map((e) => e.seq)).toEqual(results.map((r) => r.seq));
    expect(all.every((e, i) => i === 0 || e.seq > all[i - 1]!.seq)).toBe(true);
    expect(all[7]!.records).toEqual([{ w: 'a', n: 7 }, { w: 'b', n: 7 }]);
    expect(await log.head()).toBe(all.at(-1)!.seq);
    expect((await log.read(all[27]!.seq, { max: 10 })).map((e) => e.id)).toEqual(['e28', 'e29']);
    expect(await log.read(all.at(-1)!.seq)).toEqual([]);
    await log.close();
  });

  it('answers a repeated id with duplicate: true and the earlier seq, and adds no entry', async () => {
    const { spec, name } = impl.fresh();
    const log = await openEventLog<Rec>(spec, name);
    const first = await log.append('x', [{ w: 'a', n: 1 }]);
    await log.append('y', [{ w: 'a', n: 2 }]);
    expect(await log.append('x', [{ w: 'a', n: 99 }])).toEqual({ seq: first.seq, duplicate: true });
    const all = await readAll(log);
    expect(all.map((e) => [e.id, e.records[0]!.n])).toEqual([['x', 1], ['y', 2]]);
    await log.close();
  });

  it('gives 300 concurrent appends 300 distinct seqs, and concurrent repeats of one id one entry', async () => {
    const { spec, name } = impl.fresh();
    const log = await openEventLog<Rec>(spec, name);
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(`c${i}`, [{ w: 'c', n: i }])));
    expect(new Set(rs.map((r) => r.seq)).size).toBe(300);
    const dup = await Promise.all(Array.from({ length: 5 }, () => log.append('same', [{ w: 's', n: 0 }])));
    expect(new Set(dup.map((r) => r.seq)).size).toBe(1);
    expect(dup.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await readAll(log)).length).toBe(301);
    await log.close();
  });

  it('wakes a waiting read when an entry is appended, in this process and through a second reader', async () => {
    const { spec, name } = impl.fresh();
    const log = await openEventLog<Rec>(spec, name);
    const reader = await openEventLog<Rec>(spec, name);
    await log.append('before', [{ w: 'a', n: 0 }]);
    const head = await log.head();
    const t0 = Date.now();
    const waiting = log.read(head, { waitMs: 10_000 });
    const waiting2 = reader.read(head, { waitMs: 10_000 });
    setTimeout(() => void log.append('after', [{ w: 'a', n: 1 }]), 150);
    const [got, got2] = await Promise.all([waiting, waiting2]);
    expect(got.map((e) => e.id)).toEqual(['after']);
    expect(got2.map((e) => e.id)).toEqual(['after']);
    expect(Date.now() - t0).toBeLessThan(3_000);
    const t1 = Date.now();
    expect(await log.read(await log.head(), { waitMs: 200 })).toEqual([]);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(190);
    await reader.close();
    await log.close();
  });

  it('wakes a waiting read when another process appends', async () => {
    const { spec, name } = impl.fresh();
    const reader = await openEventLog<Rec>(spec, name);
    const t0 = Date.now();
    const waiting = reader.read(0, { waitMs: 20_000 });
    const [line] = await child({ mode: 'append', spec, name });
    expect(line).toMatch(/^ok \d+$/);
    const got = await waiting;
    expect(got.map((e) => [e.id, e.records])).toEqual([[expect.stringMatching(/^child-\d+$/), [{ w: 'child', n: 0 }]]]);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await reader.close();
  });

  it('keeps every entry and every id after close and reopen', async () => {
    const { spec, name } = impl.fresh();
    const log = await openEventLog<Rec>(spec, name);
    for (let i = 0; i < 20; i++) await log.append(`r${i}`, [{ w: 'r', n: i }]);
    const before = await readAll(log);
    await log.close();
    const again = await openEventLog<Rec>(spec, name);
    expect(await readAll(again)).toEqual(before);
    expect(await again.append('r5', [])).toEqual({ seq: before[5]!.seq, duplicate: true });
    const next = await again.append('r20', [{ w: 'r', n: 20 }]);
    expect(next.seq).toBeGreaterThan(before.at(-1)!.seq);
    await again.close();
  });

  it('LogWriter: 20,000 records written while the log is down are spilled, then replayed exactly once', async () => {
    const { spec, name } = impl.fresh();
    const spillDir = join(root, `spill${next()}`);
    const down = await impl.unavailable(spec, name);
    const w = await LogWriter.open(down.log, { spillDir, idPrefix: 'serve', maxBuffered: 2_000, maxBatch: 1_000 });
    for (let n = 0; n < 20_000; n++) w.write({ w: 'serve', n });
    await w.flush();
    const s = w.stats();
    expect(s.appended).toBe(0);
    expect(s.spilled).toBe(20_000);
    expect(s.buffered).toBe(0);
    expect(s.appendFailures).toBeGreaterThan(0);
    await w.close();
    await down.log.close();
    await down.restore();
    // Spill files are named <index>-<records>.spill; batches that piled up behind a slow disk share one.
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.spill')).reduce((a, f) => a + Number(/-(\d+)\.spill$/.exec(f)![1]), 0)).toBe(20_000);

    const log = await openEventLog<Rec>(spec, name);
    const w2 = await LogWriter.open(log, { spillDir, idPrefix: 'serve' });
    expect(w2.stats()).toMatchObject({ spilled: 0, appended: 20_000 });
    for (let n = 20_000; n < 20_500; n++) w2.write({ w: 'serve', n });
    await w2.close();
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.spill'))).toHaveLength(0);
    const counts = checkSequences(await readAll(log));
    expect(counts.get('serve')).toBe(20_500);
    await log.close();
  });

  it('LogWriter: recovers by itself when the log comes back, appending what it spilled meanwhile once', async () => {
    const { spec, name } = impl.fresh();
    const spillDir = join(root, `spill${next()}`);
    const down = await impl.unavailable(spec, name);
    const w = await LogWriter.open(down.log, { spillDir, idPrefix: 'serve', maxBuffered: 2_000, maxBatch: 1_000 });
    for (let n = 0; n < 10_000; n++) w.write({ w: 'serve', n });
    await w.flush();
    expect(w.stats()).toMatchObject({ spilled: 10_000, appended: 0 });
    await down.restore();
    for (let n = 10_000; n < 20_000; n++) w.write({ w: 'serve', n });
    for (let t = Date.now(); Date.now() - t < 30_000; await new Promise((r) => setTimeout(r, 20))) {
      if (w.stats().appended === 20_000) break;
    }
    expect(w.stats()).toMatchObject({ spilled: 0, buffered: 0, appended: 20_000 });
    await w.close();
    expect(checkSequences(await readAll(down.log)).get('serve')).toBe(20_000);
    await down.log.close();
  });

  it('LogWriter: a child killed with SIGKILL twice while writing loses nothing it flushed, logs nothing twice, leaves no gap', async () => {
    const { spec, name } = impl.fresh();
    const spillDir = join(root, `spill${next()}`);
    const flushed = new Map<string, number>();
    let maxSpilled = 0;
    for (const writer of ['k1', 'k2']) {
      await child({ mode: 'write', spec, name, spillDir, writer, flakyMs: 120 }, (line, kill) => {
        const m = /^flushed (\d+) spilled (\d+)/.exec(line);
        if (!m) return;
        flushed.set(writer, Number(m[1]));
        maxSpilled = Math.max(maxSpilled, Number(m[2]));
        if (Number(m[1]) >= 28_000) kill();
      });
    }
    // The flaky windows made batches spill (so the kill can land with some on disk).
    expect(maxSpilled).toBeGreaterThan(0);
    // The restart: a new writer on the same spill folder replays what the killed ones left.
    const log = await openEventLog<Rec>(spec, name);
    const w = await LogWriter.open(log, { spillDir, idPrefix: 'restart' });
    await w.close();
    const counts = checkSequences(await readAll(log));
    for (const writer of ['k1', 'k2']) expect(counts.get(writer)).toBeGreaterThanOrEqual(flushed.get(writer)!);
    await log.close();
  });
});
