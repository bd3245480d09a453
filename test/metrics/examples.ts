// Builds FeedbackExample records for the metrics tests with only the fields a test cares about.
import type { FeedbackExample } from '../../src/feedback/records.ts';

let seq = 0;

export const T0 = Date.UTC(2026, 0, 5, 9);

export function example(o: { score: number; label: 0 | 1; at: number; model?: string; version?: number; arm?: string; fields?: Record<string, unknown>; picked?: number | null; shown?: number | null }): FeedbackExample {
  const id = `p${++seq}`;
  return {
    prediction_id: id,
    model: o.model ?? 'ctr',
    model_version: o.version ?? 1,
    arm: o.arm ?? 'main',
    predicted_at: o.at,
    decided_at: o.at + 1000,
    label: o.label,
    score: o.score,
    event_id: o.label ? `e${id}` : null,
    event_type: o.label ? 'click' : null,
    picked_position: o.picked ?? null,
    shown_count: o.shown ?? null,
    text: null,
    scrub_rules: null,
    fields: o.fields ?? {},
  };
}

/** Deterministic pseudo-random examples: 2 versions, 2 arms, 3 days, 2 slice fields, some ranked. */
export function generated(n: number, seed = 7): FeedbackExample[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, (_, i) => {
    const arm = i % 2 ? 'B' : 'A';
    const score = Math.round(rnd() * 1e6) / 1e6;
    const ranked = i % 3 === 0;
    return example({
      score,
      label: rnd() < score * (arm === 'B' ? 1 : 0.8) ? 1 : 0,
      at: T0 + Math.floor(rnd() * 3 * 24 * 3_600_000),
      version: arm === 'A' ? 1 : 2,
      arm,
      fields: { country: ['de', 'fr', 'us'][i % 3], device: i % 5 ? 'mobile' : 'desktop', user: `u${i % 17}` },
      picked: ranked && rnd() < 0.7 ? Math.floor(rnd() * 10) : null,
      shown: ranked ? 10 : null,
    });
  });
}

/** A value with every number cut to 10 significant digits: sums in another order differ in the last bits. */
export function round10<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' ? +x.toPrecision(10) : x)));
}
