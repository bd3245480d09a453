// A generated prediction and outcome stream for the feedback tests and benchmark: ads (click within
// 30 min) and smart replies (accept with a position, typed_own with personal data, reject), with
// duplicates, disorder, events later than the allowed lateness, events before their prediction,
// events for predictions that never come and malformed events. Seeded: the same seed, the same stream.
import type { JoinSpec } from '../../src/feedback/spec.ts';
import { parseJoinSpec } from '../../src/feedback/spec.ts';

export const TEST_SPEC: JoinSpec = parseJoinSpec({
  window: '30m',
  lateness: '5m',
  watermark_delay: '10s',
  prediction_delay: '10s',
  unmatched_timeout: '10m',
  rules: [
    { type: 'click', label: 1 },
    { type: 'accept', label: 1, position: true },
    { type: 'typed_own', label: 0 },
    { type: 'reject', label: 0, within: '20m' },
  ],
  publish: { dataset: 'feedback', every: '1s' },
});

export interface GenOptions {
  predictions: number;
  seed?: number;
  /** prediction spacing in ms (default 500) */
  spacing?: number;
  /** records per log entry (default 500) */
  entry?: number;
  /** fraction of predictions with an outcome event besides impressions (default: ~0.45) */
  outcomeRate?: number;
  /**
   * fraction of predictions with a shadow copy (`<id>/shadow`, arriving before or after its main);
   * a tenth as many orphan shadows (no main), and as many whose main comes 12–20 min late (default 0)
   */
  shadows?: number;
}

export interface GenEntry {
  log: 'predictions' | 'events';
  id: string;
  records: Record<string, unknown>[];
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const MIN = 60_000;
const TEXTS = ['sure, see you then', 'mail me at ana.lopez@example.com', 'call +1 415 555 0123 tonight', 'no thanks', 'ok 👍'];

interface Timed {
  at: number;
  log: 'predictions' | 'events';
  rec: Record<string, unknown>;
}

/** Yields log entries in arrival order (each log's entries in its own order), block by block. */
export function* generate(o: GenOptions): Generator<GenEntry> {
  const r = rng(o.seed ?? 42);
  const spacing = o.spacing ?? 500;
  const per = o.entry ?? 500;
  const rate = o.outcomeRate ?? 1;
  const t0 = Date.UTC(2026, 10, 1);
  let future: Timed[] = [];
  const out: Record<'predictions' | 'events', Record<string, unknown>[]> = { predictions: [], events: [] };
  const counters = { predictions: 0, events: 0 };
  const BLOCK = 2000;
  function* flush(until: number, all: boolean): Generator<GenEntry> {
    future.sort((a, b) => a.at - b.at);
    let k = 0;
    while (k < future.length && (all || future[k]!.at < until)) {
      const t = future[k++]!;
      const buf = out[t.log];
      buf.push(t.rec);
      if (buf.length >= per) {
        yield { log: t.log, id: `${t.log}-${++counters[t.log]}`, records: buf.splice(0) };
      }
    }
    future = future.slice(k);
    if (all) for (const log of ['predictions', 'events'] as const) if (out[log].length) yield { log, id: `${log}-${++counters[log]}`, records: out[log].splice(0) };
  }
  let ev = 0;
  const event = (pid: string, type: string, te: number, extra: Record<string, unknown> = {}) => {
    const id = `e${++ev}`;
    const x = r();
    const delay = x < 0.01 ? 40 * MIN + r() * 50 * MIN : x < 0.11 ? 10_000 + r() * 110_000 : r() * 2000;
    const rec = { event_id: id, prediction_id: pid, type, time: Math.round(te), ...extra };
    future.push({ at: te + delay, log: 'events', rec });
    if (r() < 0.05) future.push({ at: te + delay + r() * 300_000, log: 'events', rec: { ...rec } });
  };
  for (let i = 0; i < o.predictions; i++) {
    const tp = t0 + i * spacing + Math.round(r() * 2000);
    const pid = `p${i}`;
    const reply = r() < 0.3;
    const fields = reply ? { thread: `t${i % 977}`, lang: i % 3 ? 'en' : 'es' } : { ad: `a${i % 1013}`, country: ['us', 'de', 'fr'][i % 3], bid: (i % 50) / 10 };
    const pred = reply
      ? { prediction_id: pid, time: tp, model: 'reply', version: 2, arm: i % 2 ? 'main' : 'b', fields, outputs: { score: 0.5 }, shown: [0, 1, 2].map((p) => ({ candidate_id: `c${p}`, position: p, score: 0.9 - p * 0.2 })) }
      : { prediction_id: pid, time: tp, model: 'ctr', version: 1, arm: 'main', fields, outputs: { score: ((i * 7919) % 1000) / 1000 } };
    const pdelay = r() < 0.02 ? MIN + r() * 20 * MIN : r() * 1000;
    future.push({ at: tp + pdelay, log: 'predictions', rec: pred });
    if (o.shadows && r() < o.shadows) {
      const copy = { ...pred, prediction_id: `${pid}/shadow`, version: pred.version + 1, arm: 'shadow', shadow: true, outputs: { score: r() } };
      future.push({ at: tp + r() * 3 * MIN, log: 'predictions', rec: copy });
    }
    if (o.shadows && r() < o.shadows / 10) {
      const base = { time: tp, model: 'ctr', version: 1, arm: 'main', fields: { ad: `a${i % 1013}` }, outputs: { score: 0.5 } };
      future.push({ at: tp + r() * 1000, log: 'predictions', rec: { ...base, prediction_id: `ghost${i}/shadow`, version: 2, shadow: true } });
      future.push({ at: tp + r() * 1000, log: 'predictions', rec: { ...base, prediction_id: `tardy${i}/shadow`, version: 2, shadow: true } });
      future.push({ at: tp + 12 * MIN + r() * 8 * MIN, log: 'predictions', rec: { ...base, prediction_id: `tardy${i}` } });
      if (r() < 0.5) event(`tardy${i}`, 'click', tp + 2 * MIN);
    }
    if (r() < rate) {
      if (!reply) {
        if (r() < 0.5) event(pid, 'impression', tp + 1000);
        if (r() < 0.4) {
          event(pid, 'click', tp + r() * 40 * MIN);
          if (r() < 0.15) event(pid, 'click', tp + r() * 40 * MIN);
        }
      } else {
        const x = r();
        if (x < 0.4) event(pid, 'accept', tp + r() * 5 * MIN, { position: Math.floor(r() * 3) });
        else if (x < 0.6) event(pid, 'typed_own', tp + r() * 5 * MIN, { text: TEXTS[Math.floor(r() * TEXTS.length)] });
        else if (x < 0.7) event(pid, 'reject', tp + r() * 25 * MIN);
      }
    }
    if (r() < 0.003) event(`missing${i}`, 'click', tp + 1000);
    if (r() < 0.002) future.push({ at: tp + 500, log: 'events', rec: { event_id: `bad${i}`, prediction_id: pid, type: 'click', time: 'yesterday' } });
    if (i % BLOCK === BLOCK - 1) yield* flush(tp - 2 * spacing * BLOCK, false);
  }
  yield* flush(Infinity, true);
}
