// A logged prediction checked and turned into the columns the join keeps (its score, the shown
// list's scores for a picked position, its fields as JSON), or the reason it is quarantined.
import { shapeOf, type Shape } from './field-types.ts';
import type { PredictionRecord } from './records.ts';

export interface PredColumns {
  prediction_id: string;
  tp: number;
  model: string;
  version: number;
  arm: string;
  score: number;
  /** JSON array of the shown candidates' scores by position, or null */
  shown: string | null;
  fields: string;
  /** the fields' keys and kinds of value (their dataset columns' types) */
  shape: Shape;
}

/** A finite number, or the first element of an array of numbers. */
const pick = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined);

/** outputs.score, else the first number among the outputs, else the top shown score, else 0. */
export function baseScore(r: PredictionRecord): number {
  const o = r.outputs ?? {};
  const s = pick(o.score);
  if (s !== undefined) return s;
  for (const v of Object.values(o)) {
    const x = pick(v);
    if (x !== undefined) return x;
  }
  return r.shown?.[0]?.score ?? 0;
}

export function checkPrediction(raw: unknown): { ok: true; cols: PredColumns } | { ok: false; reason: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not an object' };
  const r = raw as PredictionRecord;
  if (typeof r.prediction_id !== 'string' || !r.prediction_id || r.prediction_id.length > 256) return { ok: false, reason: 'prediction_id: expected a non-empty string' };
  if (typeof r.time !== 'number' || !Number.isFinite(r.time)) return { ok: false, reason: 'time: expected epoch milliseconds' };
  if (typeof r.model !== 'string' || !Number.isInteger(r.version)) return { ok: false, reason: 'model/version: expected a name and an integer version' };
  const fields = r.fields && typeof r.fields === 'object' ? r.fields : {};
  let shown: string | null = null;
  if (Array.isArray(r.shown)) {
    const scores: number[] = [];
    for (const s of r.shown) if (s && Number.isInteger(s.position) && s.position >= 0 && s.position < 10_000) scores[s.position] = s.score;
    shown = JSON.stringify(Array.from(scores, (x) => (typeof x === 'number' ? x : null)));
  }
  return {
    ok: true,
    cols: {
      prediction_id: r.prediction_id,
      tp: Math.trunc(r.time),
      model: r.model,
      version: r.version,
      arm: typeof r.arm === 'string' ? r.arm : 'main',
      score: baseScore(r),
      shown,
      fields: JSON.stringify(fields),
      shape: shapeOf(fields),
    },
  };
}

/** The score of the candidate at `position` when the prediction logged a shown list. */
export function pickedScore(shown: string | null, position: number | null, fallback: number): number {
  if (shown === null || position === null) return fallback;
  const s = (JSON.parse(shown) as (number | null)[])[position];
  return typeof s === 'number' ? s : fallback;
}
