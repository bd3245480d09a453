// Log entries checked and turned into columns, ready for the join: for predictions the columns the
// join keeps (checkPrediction), for events the checked event (checkEvent); invalid records keep
// their reason and their JSON text for the quarantine. One chunk holds the records of consecutive
// entries, each column an array over all of them, so a worker thread (decode-worker.js) can do the
// parsing and checking and hand a chunk over cheaply: a structured clone of a few arrays costs the
// receiving thread about a fifth of parsing and checking the JSON itself (0.33 vs 1.5 µs a prediction).
//
// Example: const chunk = decodeEntries('events', await log.read(0)); chunk.events!.eventId[0]
import type { LogEntry } from '../log/event-log.ts';
import { internShape, type FieldType, type Shape } from './field-types.ts';
import { checkPrediction } from './predictions.ts';
import { checkEvent } from './validate.ts';

export type LogName = 'predictions' | 'events';

export interface PredictionColumns {
  id: string[];
  tp: Float64Array;
  model: string[];
  version: Float64Array;
  arm: string[];
  score: Float64Array;
  shown: (string | null)[];
  fields: string[];
  /** index into `shapes` */
  shape: Int32Array;
  /** the fields' keys and kinds, per shape seen in this chunk (null: not typed) */
  shapes: ((readonly [string, FieldType | null])[] | null)[];
}

export interface EventColumns {
  eventId: string[];
  predictionId: string[];
  type: string[];
  time: Float64Array;
  /** NaN: none */
  position: Float64Array;
  /** NaN: none */
  value: Float64Array;
  text: (string | null)[];
  scrubbed: (string[] | null)[];
}

export interface DecodedChunk {
  log: LogName;
  /** the entries' seqs, and how many records each holds */
  seqs: number[];
  counts: number[];
  /** per record of the chunk (all entries in order): 1 when it passed its check */
  ok: Uint8Array;
  /** invalid records: index in the chunk, reason, the record as JSON */
  bad: { k: number; reason: string; json: string }[];
  predictions?: PredictionColumns;
  events?: EventColumns;
}

/** The records of `entries` checked into one chunk. */
export function decodeEntries(log: LogName, entries: readonly LogEntry<unknown>[]): DecodedChunk {
  let n = 0;
  for (const e of entries) n += e.records.length;
  const chunk: DecodedChunk = { log, seqs: entries.map((e) => e.seq), counts: entries.map((e) => e.records.length), ok: new Uint8Array(n), bad: [] };
  /** each record checked: `put` its columns when it passes, else its reason and JSON go to `bad` (its columns: `blank`) */
  const each = <T>(check: (rec: unknown) => { ok: true; v: T } | { ok: false; reason: string }, put: (k: number, v: T) => void, blank: (k: number) => void) => {
    let k = 0;
    for (const e of entries) {
      for (const rec of e.records) {
        const r = check(rec);
        if (r.ok) {
          chunk.ok[k] = 1;
          put(k, r.v);
        } else {
          chunk.bad.push({ k, reason: r.reason, json: JSON.stringify(rec) ?? String(rec) });
          blank(k);
        }
        k++;
      }
    }
  };
  if (log === 'predictions') {
    const c: PredictionColumns = {
      id: new Array(n), tp: new Float64Array(n), model: new Array(n), version: new Float64Array(n), arm: new Array(n), score: new Float64Array(n),
      shown: new Array(n), fields: new Array(n), shape: new Int32Array(n), shapes: [],
    };
    const shapeIndex = new Map<Shape, number>();
    each(
      (rec) => {
        const r = checkPrediction(rec);
        return r.ok ? { ok: true, v: r.cols } : r;
      },
      (k, p) => {
        c.id[k] = p.prediction_id;
        c.tp[k] = p.tp;
        c.model[k] = p.model;
        c.version[k] = p.version;
        c.arm[k] = p.arm;
        c.score[k] = p.score;
        c.shown[k] = p.shown;
        c.fields[k] = p.fields;
        let s = shapeIndex.get(p.shape);
        if (s === undefined) {
          shapeIndex.set(p.shape, (s = c.shapes.length));
          c.shapes.push(p.shape.fields === null ? null : [...p.shape.fields]);
        }
        c.shape[k] = s;
      },
      (k) => {
        c.id[k] = c.model[k] = c.arm[k] = c.fields[k] = '';
        c.shown[k] = null;
      },
    );
    chunk.predictions = c;
  } else {
    const c: EventColumns = {
      eventId: new Array(n), predictionId: new Array(n), type: new Array(n), time: new Float64Array(n), position: new Float64Array(n), value: new Float64Array(n),
      text: new Array(n), scrubbed: new Array(n),
    };
    each(
      (rec) => {
        const r = checkEvent(rec);
        return r.ok ? { ok: true, v: r.event } : r;
      },
      (k, ev) => {
        c.eventId[k] = ev.event_id;
        c.predictionId[k] = ev.prediction_id;
        c.type[k] = ev.type;
        c.time[k] = ev.time;
        c.position[k] = ev.position ?? NaN;
        c.value[k] = ev.value ?? NaN;
        c.text[k] = ev.text ?? null;
        c.scrubbed[k] = ev.scrubbed ?? null;
      },
      (k) => {
        c.eventId[k] = c.predictionId[k] = c.type[k] = '';
        c.text[k] = null;
        c.scrubbed[k] = null;
      },
    );
    chunk.events = c;
  }
  return chunk;
}

/** The chunk's shapes as this thread's interned Shapes (a chunk from a worker carries them as lists). */
export function chunkShapes(c: PredictionColumns): Shape[] {
  return c.shapes.map(internShape);
}

/** Records in a chunk. */
export function chunkRecords(c: DecodedChunk): number {
  return c.ok.length;
}
