// A decided prediction as a labeled example: the object the metrics fold (toExample) and its
// dataset row (flatRow, and flatLine: the same row as one NDJSON line, made when it is decided).
import type { PredRow } from './join.ts';
import type { Shape } from './field-types.ts';
import { FEEDBACK_COLUMNS, type FeedbackExample } from './records.ts';

/** The example a decided prediction row gives; its logged fields are parsed on first use. */
export function toExample(p: PredRow): FeedbackExample {
  return new Example(p);
}

// A class, not an object literal with a getter redefined on first use: that left every example a
// slow dictionary-mode object. The metrics read fields only for their slices, and most batches are
// mostly timeout negatives.
class Example implements FeedbackExample {
  prediction_id: string;
  model: string;
  model_version: number;
  arm: string;
  predicted_at: number;
  decided_at: number;
  label: 0 | 1;
  score: number;
  event_id: string | null;
  event_type: string | null;
  picked_position: number | null;
  shown_count: number | null;
  text: string | null;
  scrub_rules: string | null;
  private parsed: Record<string, unknown> | undefined;
  private readonly raw: string;

  constructor(p: PredRow) {
    this.prediction_id = p.prediction_id;
    this.model = p.model;
    this.model_version = p.version;
    this.arm = p.arm;
    this.predicted_at = p.tp;
    this.decided_at = p.decided_at!;
    this.label = p.label === 1 ? 1 : 0;
    this.score = p.score;
    this.event_id = p.event_id;
    this.event_type = p.event_type;
    this.picked_position = p.picked_position;
    this.shown_count = p.shown === null ? null : (JSON.parse(p.shown) as unknown[]).length;
    this.text = p.text;
    this.scrub_rules = p.scrub_rules;
    this.parsed = undefined;
    this.raw = p.fields;
  }

  get fields(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.raw) as Record<string, unknown>);
  }
}

const FIXED = Object.keys(FEEDBACK_COLUMNS);
const clashes = (k: string) => k in FEEDBACK_COLUMNS || k.startsWith('_');
/** The dataset column of the logged field `k`. */
export const fieldColumn = (k: string): string => (clashes(k) ? `field_${k}` : k);
/** The columns of an example's row besides its logged fields. */
export const ROW_COLUMNS: readonly string[] = ['_id', '_ord', ...FIXED];
const MAYBE_CLASH = new RegExp(`"(?:_|(?:${FIXED.join('|')})":)`);

const num = (x: number | null) => (x === null || !Number.isFinite(x) ? 'null' : String(x));
const str = (x: string | null) => (x === null ? 'null' : JSON.stringify(x));

// Whether a fields shape has a key that clashes, by shape (shapes are interned and few).
const shapeClash = new Map<Shape, boolean>();
export function clashesIn(p: PredRow): boolean {
  const fields = p.shape.fields;
  // an untyped shape: a field can clash only if its name shows as "_… or "<column>": in the JSON; then check properly
  if (fields === null) return MAYBE_CLASH.test(p.fields) && Object.keys(JSON.parse(p.fields) as object).some(clashes);
  let c = shapeClash.get(p.shape);
  if (c === undefined) shapeClash.set(p.shape, (c = fields.some(([k]) => clashes(k))));
  return c;
}

/** The example as a flat row: the fixed columns, then the logged fields (renamed `field_<name>` on a clash). */
export function flatRow(p: PredRow): Record<string, unknown> {
  const e = toExample(p);
  const row: Record<string, unknown> = { _id: `feedback:${e.prediction_id}`, _ord: p.ord };
  for (const c of FIXED) row[c] = e[c as keyof typeof e];
  for (const [k, v] of Object.entries(e.fields)) row[fieldColumn(k)] = v;
  return row;
}

/**
 * flatRow as one NDJSON line, written out by hand: the logged fields are already JSON, so unless a
 * field name clashes they are spliced in as they are (a JSON.stringify of every row was most of a
 * publish).
 */
export function flatLine(p: PredRow): string {
  if (clashesIn(p)) return JSON.stringify(flatRow(p));
  const shown = p.shown === null ? 'null' : String((JSON.parse(p.shown) as unknown[]).length);
  const f = p.fields; // JSON.stringify's: no space around it
  // The batch's lines are written by exampleLines (lines.ts), which this plain version checks.
  return '{"_id":"feedback:' + str(p.prediction_id).slice(1) + ',"_ord":' + num(p.ord) + ',"prediction_id":' + str(p.prediction_id) +
    ',"model":' + str(p.model) + ',"model_version":' + num(p.version) + ',"arm":' + str(p.arm) + ',"predicted_at":' + num(p.tp) +
    ',"decided_at":' + num(p.decided_at) + ',"label":' + (p.label === 1 ? '1' : '0') + ',"score":' + num(p.score) + ',"event_id":' + str(p.event_id) +
    ',"event_type":' + str(p.event_type) + ',"picked_position":' + num(p.picked_position) + ',"shown_count":' + shown + ',"text":' + str(p.text) +
    ',"scrub_rules":' + str(p.scrub_rules) + (f === '{}' ? '}' : ',' + f.slice(1));
}
