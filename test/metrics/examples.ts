// Builds FeedbackExample records for the metrics tests with only the fields a test cares about.
import type { FeedbackExample } from '../../src/feedback/records.ts';

let seq = 0;

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
