// Checks one raw outcome record and turns it into an OutcomeEvent, or names why it is invalid
// (the join quarantines invalid records with that reason; intake reports the same reason).
import type { OutcomeEvent } from './records.ts';

export type Checked = { ok: true; event: OutcomeEvent & { scrubbed?: string[] } } | { ok: false; reason: string };

const TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_ID = 256;
const MAX_TEXT = 10_000;

/** A line intake could not parse is logged as `{ _raw, _error }` so it is quarantined, never lost. */
export interface RawLine {
  _raw: string;
  _error: string;
}

function idOf(v: unknown): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID ? v : null;
}

/** Event time: epoch ms (number or numeric string) or ISO 8601. */
export function eventTime(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.trunc(v) : null;
  if (typeof v === 'string' && v.length > 0) {
    if (/^\d+$/.test(v)) return Number(v);
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? v.getTime() : null;
  return null;
}

export function checkEvent(raw: unknown): Checked {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: `not an object (${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw})` };
  const r = raw as Record<string, unknown>;
  if (typeof r._error === 'string') return { ok: false, reason: r._error };
  const event_id = idOf(r.event_id);
  if (event_id === null) return { ok: false, reason: `event_id: expected a non-empty string of at most ${MAX_ID} characters, received ${brief(r.event_id)}` };
  const prediction_id = idOf(r.prediction_id);
  if (prediction_id === null) return { ok: false, reason: `prediction_id: expected a non-empty string of at most ${MAX_ID} characters, received ${brief(r.prediction_id)}` };
  if (typeof r.type !== 'string' || !TYPE.test(r.type)) return { ok: false, reason: `type: expected an event type (a letter, then letters, digits, _ . -), received ${brief(r.type)}` };
  const time = eventTime(r.time);
  if (time === null) return { ok: false, reason: `time: expected epoch milliseconds or an ISO 8601 time, received ${brief(r.time)}` };
  const event: OutcomeEvent & { scrubbed?: string[] } = { event_id, prediction_id, type: r.type, time };
  if (r.position !== undefined && r.position !== null) {
    if (typeof r.position !== 'number' || !Number.isInteger(r.position) || r.position < 0) return { ok: false, reason: `position: expected an integer ≥ 0, received ${brief(r.position)}` };
    event.position = r.position;
  }
  if (r.value !== undefined && r.value !== null) {
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return { ok: false, reason: `value: expected a finite number, received ${brief(r.value)}` };
    event.value = r.value;
  }
  if (r.text !== undefined && r.text !== null) {
    if (typeof r.text !== 'string' || r.text.length > MAX_TEXT) return { ok: false, reason: `text: expected a string of at most ${MAX_TEXT} characters, received ${brief(r.text)}` };
    event.text = r.text;
  }
  if (Array.isArray(r.scrubbed) && r.scrubbed.every((x) => typeof x === 'string')) event.scrubbed = r.scrubbed as string[];
  return { ok: true, event };
}

function brief(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}
