// One conformance suite for both event logs (segment files and NATS JetStream), and the LogWriter
// on each: order, dedup, waiting reads, restart, torn tails, a second writer, spill and replay, SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventLog, EventLogSpec } from '../../src/log/event-log.ts';
import { FileEventLog } from '../../src/log/file-log.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';
import { openEventLog } from '../../src/log/open.ts';
import { LogWriter } from '../../src/log/writer.ts';

const NATS = process.env.SLUICE_TEST_NATS ?? 'nats://127.0.0.1:4222';
const run = `${process.pid}_${Date.now().toString(36)}`.toUpperCase();
const root = mkdtempSync(join(tmpdir(), 'sluice-log-'));
const streams: string[] = [];
const proxies: Server[] = [];
const holders: ChildProcess[] = [];
let counter = 0;

type Rec = { w: string; n: number };

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
    fresh: () => ({ spec: { kind: 'file', dir: join(root, `logs${counter++}`) }, name: 'predictions' }),
    // A live process holds the folder's lock and never lets go: commits fail until it is gone.
    async unavailable(spec, name) {
      const dir = join((spec as Extract<EventLogSpec, { kind: 'file' }>).dir, name);
      const holder = holdLock(dir);
      return { log: await FileEventLog.open<Rec>(dir, name, { lockWaitMs: 100 }), restore: async () => void holder.kill('SIGKILL') };
    },
  },
  {
    kind: 'jetstream',
    fresh: () => {
      const stream = `SLUICE_TEST_${run}_${counter++}`;
      streams.push(stream);
      return { spec: { kind: 'jetstream', servers: NATS, stream }, name: 'predictions' };
    },
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

/** A `sleep` process whose pid is written into `dir`/writer.lock, as if it were a stuck writer. */
function holdLock(dir: string): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const p = spawn('sleep', ['120'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'writer.lock'), `${p.pid}\n${hostname()}\n`);
  holders.push(p);
  return p;
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

afterAll(async () => {
  for (const p of proxies) p.close();
  for (const h of holders) h.kill('SIGKILL');
  const nc = await JetStreamEventLog.open(NATS, 'SLUICE_TEST_CLEANUP', 'cleanup');
  for (const s of [...streams, 'SLUICE_TEST_CLEANUP']) await JetStreamEventLog.open(NATS, s, 'x').then((l) => l.destroy().catch(() => undefined).finally(() => l.close()));
  await nc.close();
  rmSync(root, { recursive: true, force: true });
});

async function readAll(log: EventLog<Rec>): Promise<{ seq: number; id: string; records: Rec[] }[]> {
  const out = [];
  for (let after = 0; ; ) {
    const got = await log.read(after, { max: 500 });
    if (!got.length) return out;
    out.push(...got);
    after = got.at(-1)!.seq;
  }
}

function child(args: object, onLine?: (line: string, kill: () => void) => void): Promise<string[]> {
  const p = spawn(process.execPath, ['bin/run-ts.js', 'test/log/child.ts', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      onLine?.(line, () => p.kill('SIGKILL'));
    }
  });
  return new Promise((res) => p.on('exit', () => res(lines)));
}

/** Per writer: each counter once, 0..max without a gap. Returns max+1 per writer. */
function checkSequences(entries: { records: Rec[] }[]): Map<string, number> {
  const seen = new Map<string, Set<number>>();
  let total = 0;
  for (const e of entries) {
    for (const r of e.records) {
      let s = seen.get(r.w);
      if (!s) seen.set(r.w, (s = new Set()));
      expect(s.has(r.n), `${r.w} ${r.n} logged twice`).toBe(false);
      s.add(r.n);
      total++;
    }
  }
  const counts = new Map<string, number>();
  for (const [w, s] of seen) {
    const max = Math.max(...s);
    expect(s.size, `${w}: ${s.size} records for counters 0..${max}`).toBe(max + 1);
    counts.set(w, s.size);
  }
  expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(total);
  return counts;
}

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
    const spillDir = join(root, `spill${counter++}`);
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
    expect(readdirSync(spillDir).filter((f) => f.endsWith('.spill'))).toHaveLength(20);

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
    const spillDir = join(root, `spill${counter++}`);
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
    const spillDir = join(root, `spill${counter++}`);
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

describe('the file event log on disk', () => {
  it('cuts a torn tail on open and appends after the last whole entry', async () => {
    const dir = join(root, `torn${counter++}`);
    const log = await FileEventLog.open<Rec>(dir, 'p');
    for (let i = 0; i < 3; i++) await log.append(`t${i}`, [{ w: 't', n: i }]);
    await log.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.seg'))!);
    const whole = statSync(seg).size;
    // Half a frame: a length saying 100 bytes, a crc, and 10 of the bytes.
    const torn = Buffer.alloc(18);
    torn.writeUInt32LE(100, 0);
    appendFileSync(seg, torn);
    const reader = await FileEventLog.open<Rec>(dir, 'p');
    expect((await readAll(reader)).map((e) => e.id)).toEqual(['t0', 't1', 't2']);
    expect(await reader.append('t3', [{ w: 't', n: 3 }])).toEqual({ seq: 4, duplicate: false });
    expect(statSync(seg).size).toBeGreaterThan(whole);
    expect((await readAll(reader)).map((e) => e.id)).toEqual(['t0', 't1', 't2', 't3']);
    await reader.close();
  });

  it('rolls segments at their size and reads across them after reopen', async () => {
    const dir = join(root, `roll${counter++}`);
    const log = await FileEventLog.open<Rec>(dir, 'p', { segmentBytes: 1_000 });
    for (let i = 0; i < 100; i++) await log.append(`s${i}`, [{ w: 's', n: i }]);
    await log.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(3);
    const again = await FileEventLog.open<Rec>(dir, 'p', { segmentBytes: 1_000 });
    const all = await readAll(again);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(all.map((e) => e.records[0]!.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await again.append('s42', [])).toEqual({ seq: 43, duplicate: true });
    await again.close();
  });

  it('indexes big entries of sealed segments from their first bytes on open, and still catches a damaged one when read', async () => {
    const dir = join(root, `big${counter++}`);
    const log = await FileEventLog.open<Rec & { pad: string }>(dir, 'p', { segmentBytes: 150_000 });
    for (let i = 0; i < 12; i++) await log.append(`b${i}`, [{ w: 'b', n: i, pad: String(i % 10).repeat(100_000) }]);
    await log.close();
    const segs = readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
    expect(segs).toHaveLength(6);
    // One byte of a record in the second (sealed) segment changes: open does not read it, a read does.
    const second = join(dir, segs[1]!);
    const bytes = readFileSync(second);
    bytes[50_000] = bytes[50_000] === 0x31 ? 0x32 : 0x31;
    writeFileSync(second, bytes);
    const again = await FileEventLog.open<Rec & { pad: string }>(dir, 'p');
    expect(await again.head()).toBe(12);
    expect((await again.read(0, { max: 2 })).map((e) => [e.id, e.records[0]!.pad.length])).toEqual([['b0', 100_000], ['b1', 100_000]]);
    await expect(again.read(2, { max: 1 })).rejects.toThrow(/entry 3 in .*fails its crc32 check/);
    expect((await again.read(3, { max: 100 })).map((e) => e.id)).toEqual(['b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9', 'b10', 'b11']);
    expect(await again.append('b11', [])).toEqual({ seq: 12, duplicate: true });
    await again.close();
  });

  it('LogWriter moves a damaged spill file aside, keeps it, and replays the rest', async () => {
    const dir = join(root, `dmg${counter++}`);
    const spillDir = join(dir, 'spill');
    const log = await FileEventLog.open<Rec>(join(dir, 'log'), 'p');
    const down = holdLock(join(dir, 'log'));
    const w = await LogWriter.open(await FileEventLog.open<Rec>(join(dir, 'log'), 'p', { lockWaitMs: 50 }), { spillDir, idPrefix: 'd', maxBatch: 10 });
    for (let n = 0; n < 30; n++) w.write({ w: 'd', n });
    await w.close();
    down.kill('SIGKILL');
    const files = readdirSync(spillDir).filter((f) => f.endsWith('.spill')).sort();
    expect(files).toHaveLength(3);
    writeFileSync(join(spillDir, files[1]!), 'garbage');
    const w2 = await LogWriter.open(log, { spillDir, idPrefix: 'd' });
    await w2.close();
    expect(w2.stats()).toMatchObject({ appended: 20, spilled: 0 });
    expect(readdirSync(join(spillDir, 'damaged'))).toEqual([files[1]]);
    expect((await readAll(log)).flatMap((e) => e.records.map((r) => r.n))).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i + 20)]);
    await log.close();
  });

  it('keeps its index exact when the same object reads while it appends', async () => {
    const log = await FileEventLog.open<Rec>(join(root, `rw${counter++}`), 'p', { segmentBytes: 3_000 });
    let done = false;
    const seen: number[] = [];
    const reading = (async () => {
      for (let after = 0; !done || after < 200; ) {
        const got = await log.read(after, { max: 7, waitMs: 20 });
        seen.push(...got.map((e) => e.seq));
        if (got.length) after = got.at(-1)!.seq;
      }
    })();
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => log.append(`x${i * 10 + j}`, [{ w: 'x', n: i * 10 + j }])));
    done = true;
    await reading;
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(checkSequences(await readAll(log)).get('x')).toBe(200);
    await log.close();
  });

  it('lets writers in two processes and two objects take turns: every entry once, seqs 1..N, each writer in order', async () => {
    const dir = join(root, `multi${counter++}`);
    const spec: EventLogSpec = { kind: 'file', dir };
    const a = await FileEventLog.open<Rec>(join(dir, 'p'), 'p', { segmentBytes: 4_000 });
    const b = await FileEventLog.open<Rec>(join(dir, 'p'), 'p', { segmentBytes: 4_000 });
    const mine = (log: EventLog<Rec>, w: string) => (async () => {
      for (let n = 0; n < 150; n++) await log.append(`${w}-${n}`, [{ w, n }]);
    })();
    const [c1, c2] = await Promise.all([child({ mode: 'append', spec, name: 'p', writer: 'c1', count: 150 }), child({ mode: 'append', spec, name: 'p', writer: 'c2', count: 150 }), mine(a, 'a'), mine(b, 'b')]);
    expect([c1![0], c2![0]]).toEqual([expect.stringMatching(/^ok \d+$/), expect.stringMatching(/^ok \d+$/)]);
    const reader = await FileEventLog.open<Rec>(join(dir, 'p'), 'p');
    const all = await readAll(reader);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => e.id)).size).toBe(600);
    for (const w of ['a', 'b', 'c1', 'c2']) expect(all.flatMap((e) => e.records).filter((r) => r.w === w).map((r) => r.n)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(await b.append('a-7', [])).toEqual({ seq: all.find((e) => e.id === 'a-7')!.seq, duplicate: true });
    for (const l of [a, b, reader]) await l.close();
  });

  it('fails a commit that cannot get the lock in time with a message naming the holder, and still reads', async () => {
    const dir = join(root, `lock${counter++}`);
    const log = await FileEventLog.open<Rec>(dir, 'p', { lockWaitMs: 150 });
    await log.append('first', [{ w: 'm', n: 0 }]);
    const holder = holdLock(dir);
    await expect(log.append('second', [])).rejects.toThrow(new RegExp(`^event log p \\(.*\\) is locked by process ${holder.pid} for over 150 ms \\(lock .*writer.lock\\)$`));
    expect((await readAll(log)).map((e) => e.id)).toEqual(['first']);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    // The holder is gone: its stale lock is taken over.
    expect(await log.append('second', [{ w: 'm', n: 1 }])).toEqual({ seq: 2, duplicate: false });
    await log.close();
  });
});

describe('the JetStream event log', () => {
  it('LogWriter splits a batch over max_payload into parts and logs each record once', async () => {
    const stream = `SLUICE_TEST_${run}_${counter++}`;
    streams.push(stream);
    const log = await JetStreamEventLog.open<Rec & { pad: string }>(NATS, stream, 'big');
    const spillDir = join(root, `spill${counter++}`);
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
    const stream = `SLUICE_TEST_${run}_${counter++}`;
    streams.push(stream);
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

  it('widens the duplicate window of a stream made elsewhere with a shorter one', async () => {
    const stream = `SLUICE_TEST_${run}_${counter++}`;
    streams.push(stream);
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
