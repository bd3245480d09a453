// The event-time rules of the join, as pure functions: what one event does to its prediction.
// Every decision depends only on the record and the watermark recorded when it arrived in its own
// log, never on how the two logs interleave or how they were batched, so a restart after a crash
// (other batch boundaries) decides exactly what an uninterrupted run, or the batch oracle, decides.
import type { JoinSpec } from './spec.ts';

/** The id suffix `sluice serve` gives a shadow version's copy of a prediction. */
export const SHADOW = '/shadow';

/** What happened to a valid, first-seen event. Each event gets exactly one. */
export type Disposition = 'decided' | 'late' | 'after_decision' | 'outside_window' | 'no_rule' | 'pending' | 'unmatched';

export interface JoinEvent {
  event_id: string;
  prediction_id: string;
  type: string;
  te: number;
  /** the events' watermark just before this event arrived (null: no event before it) */
  ew_before: number | null;
  ord: number;
  position: number | null;
  value: number | null;
  text: string | null;
  scrub_rules: string | null;
}

export interface PredState {
  prediction_id: string;
  tp: number;
  close_at: number;
  /** the predictions' watermark just before this prediction arrived */
  pw_before: number | null;
  label: number | null;
}

export type Rules = Map<string, { label: 0 | 1; within: number; position: boolean }>;

export function rulesOf(spec: JoinSpec): Rules {
  return new Map(spec.rules.map((r) => [r.type, { label: r.label, within: r.within ?? spec.window, position: r.position }]));
}

/** The window closes (in event time) at prediction time + window + allowed lateness. */
export function closeAt(spec: JoinSpec, tp: number): number {
  return tp + spec.window + spec.lateness;
}

/** An event belongs to its prediction only if the prediction arrived before the predictions' watermark passed te + timeout. */
export function matches(spec: JoinSpec, p: PredState, e: JoinEvent): boolean {
  return p.pw_before === null || p.pw_before < e.te + spec.unmatched_timeout;
}

/**
 * A shadow prediction pairs with its main prediction (the first record of the main's id) when the
 * main arrived before it, or before the predictions' watermark passed the shadow's time + the
 * unmatched timeout (the rule an event waiting for its prediction follows). Otherwise the shadow is
 * an orphan, quarantined once that watermark passes.
 */
export function shadowMatches(spec: JoinSpec, main: { ord: number; pw_before: number | null }, shadow: { ord: number; tp: number }): boolean {
  return main.ord < shadow.ord || main.pw_before === null || main.pw_before < shadow.tp + spec.unmatched_timeout;
}

/** Classifies a matched event against its prediction (as it stands when the event arrives). */
export function classify(rules: Rules, p: PredState, e: JoinEvent): Exclude<Disposition, 'pending' | 'unmatched'> {
  const rule = rules.get(e.type);
  if (!rule) return 'no_rule';
  if (e.te < p.tp || e.te > p.tp + rule.within) return 'outside_window';
  if (e.ew_before !== null && e.ew_before >= p.close_at) return 'late';
  return p.label === null ? 'decided' : 'after_decision';
}
