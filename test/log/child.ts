// A child process for the event-log tests: `append` appends `count` entries (another writer);
// `write` writes numbered records through a LogWriter, flushing and printing `flushed <n>`, until
// it is killed (the SIGKILL test), with the records spilled at that moment. Run: node bin/run-ts.js test/log/child.ts '<json args>'.
import type { AppendResult, EventLog, EventLogSpec } from '../../src/log/event-log.ts';
import { openEventLog } from '../../src/log/open.ts';
import { LogWriter } from '../../src/log/writer.ts';

interface Args {
  mode: 'append' | 'write';
  spec: EventLogSpec;
  name: string;
  spillDir?: string;
  writer?: string;
  /** `append`: how many entries, one after another (default 1) */
  count?: number;
  /** `write`: appends fail in alternating windows of this many ms, so batches spill and replay */
  flakyMs?: number;
}

const a = JSON.parse(process.argv[2]!) as Args;
const log = await openEventLog<{ w: string; n: number }>(a.spec, a.name);

if (a.mode === 'append') {
  try {
    let seq = 0;
    for (let n = 0; n < (a.count ?? 1); n++) seq = (await log.append(`child-${process.pid}${n ? `-${n}` : ''}`, [{ w: a.writer ?? 'child', n }])).seq;
    process.stdout.write(`ok ${seq}\n`);
  } catch (e) {
    process.stdout.write(`refused ${(e as Error).message}\n`);
  }
  process.exit(0);
}

/** The real log, except that appends throw during every other window of `ms` (the log "is down"). */
function flaky<R>(inner: EventLog<R>, ms: number): EventLog<R> {
  return {
    name: inner.name,
    kind: inner.kind,
    append: (id: string, records: readonly R[]): Promise<AppendResult> =>
      Math.floor(Date.now() / ms) % 2 ? Promise.reject(new Error('log down (test)')) : inner.append(id, records),
    read: (after, o) => inner.read(after, o),
    head: () => inner.head(),
    close: () => inner.close(),
  };
}

const w = await LogWriter.open(a.flakyMs ? flaky(log, a.flakyMs) : log, { spillDir: a.spillDir!, idPrefix: a.writer!, maxBuffered: 3_000, maxBatch: 500, flushMs: 10 });
let n = 0;
for (;;) {
  for (let i = 0; i < 700; i++) w.write({ w: a.writer!, n: n++ });
  if (n % 2_800 === 0) {
    await w.flush();
    process.stdout.write(`flushed ${n} spilled ${w.stats().spilled}\n`);
  } else await new Promise((r) => setImmediate(r));
}
