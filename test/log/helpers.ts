// Shared pieces of the event-log tests: temp folders and streams (cleaned up after), a child process
// runner, a stuck lock holder, and the per-writer sequence check (each counter once, no gap).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { EventLog } from '../../src/log/event-log.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';

export const NATS = process.env.SLUICE_TEST_NATS ?? 'nats://127.0.0.1:4222';
export const run = `${process.pid}_${Date.now().toString(36)}`.toUpperCase();
export const root = mkdtempSync(join(tmpdir(), 'sluice-log-'));
const streams: string[] = [];
export const proxies: Server[] = [];
const holders: ChildProcess[] = [];
let counter = 0;

export type Rec = { w: string; n: number };

/** A number unique in this test file, for folder and stream names. */
export function next(): number {
  return counter++;
}

/** A fresh JetStream stream name, deleted by cleanup(). */
export function testStream(): string {
  const s = `SLUICE_TEST_${run}_${next()}`;
  streams.push(s);
  return s;
}

/** A `sleep` process whose pid is written into `dir`/writer.lock, as if it were a stuck writer. */
export function holdLock(dir: string): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const p = spawn('sleep', ['120'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'writer.lock'), `${p.pid}\n${hostname()}\n`);
  holders.push(p);
  return p;
}

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Stops lock holders and proxies, deletes the test streams and the temp folder. */
export async function cleanup(): Promise<void> {
  for (const p of proxies) p.close();
  for (const h of holders) h.kill('SIGKILL');
  for (const s of streams) await JetStreamEventLog.open(NATS, s, 'x').then((l) => l.destroy().catch(() => undefined).finally(() => l.close()));
  rmSync(root, { recursive: true, force: true });
}

export async function readAll(log: EventLog<Rec>): Promise<{ seq: number; id: string; records: Rec[] }[]> {
  const out = [];
  for (let after = 0; ; ) {
    const got = await log.read(after, { max: 500 });
    if (!got.length) return out;
    out.push(...got);
    after = got.at(-1)!.seq;
  }
}

export function child(args: object, onLine?: (line: string, kill: () => void) => void): Promise<string[]> {
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
export function checkSequences(entries: { records: Rec[] }[]): Map<string, number> {
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
