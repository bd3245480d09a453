// The exactly-once join: one call to `step` folds a batch of prediction-log and event-log entries
// into the state and commits, in ONE transaction, the dedup registry, join state, decided examples
// (the outbox), quarantine, counts, incremental metrics and both log cursors. A crash before the
// commit loses nothing (the logs are re-read after the stored cursors); after it, nothing is redone.
// Open predictions are held in memory (a map by id and a heap by window end), not written until they
// are decided: each prediction costs one INSERT, when decided. The commit records where the
// predictions log must be replayed from to rebuild them (state.ts), so a restart is: load the
// committed state, replay the open window of the predictions log, continue after the cursors.
// A shadow whose main prediction never arrives (or arrives only after the predictions' watermark
// passed the shadow's time + the unmatched timeout) is an orphan: quarantined at that point, which
// also lets the replay point move past its entry.
//
// Example: const j = await FeedbackJoin.open(db, spec); await j.step({ predictions, events }, await j.progress(), predictionsLog);
import { IntegrityError, RetryableError, UsageError } from '../core/errors.ts';
import type { EventLog, LogEntry } from '../log/event-log.ts';
import { phaseClock, type PhaseClock } from '../engine/profile.ts';
import { forUpdate, type Param, type SqlDb, type SqlTx } from '../store/sql.ts';
import { classify, closeAt, matches, rulesOf, SHADOW, shadowMatches, type Disposition, type JoinEvent, type PredState, type Rules } from './decide.ts';
import { fieldColumn, ROW_COLUMNS, toExample } from './example.ts';
import { exampleLines } from './lines.ts';
import { FieldTypes, type FieldTypeMap } from './field-types.ts';
import { checkPrediction, pickedScore, type PredColumns } from './predictions.ts';
import { chunkShapes, decodeEntries, type DecodedChunk, type PredictionColumns } from './decode.ts';
import type { Shape } from './field-types.ts';
import type { FeedbackExample } from './records.ts';
import { makeScrubber, mergeRules, type Scrubber } from './scrub.ts';
import { IdFilter } from './id-filter.ts';
import type { JoinSpec } from './spec.ts';
import { addCounts, ensureSchema, insertMany, insertObjects, readProgress, runIn, selectIn, type Progress } from './state.ts';

export { SHADOW } from './decide.ts';
const isShadow = (id: string) => id.endsWith(SHADOW);
const mainOf = (id: string) => id.slice(0, -SHADOW.length);

/** A record's place in its log: entry seq × ORD + index in the entry (entries hold fewer records). */
export const ORD = 1_000_000;

export { toExample } from './example.ts';

export interface PredRow extends PredState, PredColumns {
  ord: number;
  decided_at: number | null;
  event_id: string | null;
  event_type: string | null;
  picked_position: number | null;
  text: string | null;
  scrub_rules: string | null;
  batch: number | null;
}

// What a decided prediction keeps in fb_predictions: what later events are judged against (times,
// label, the deciding event, which a late shadow copies). Its dataset row goes to the outbox, as one
// NDJSON line among its batch's (one row per batch), so a publish only concatenates.
const DECIDED_COLUMNS = ['prediction_id', 'ord', 'tp', 'close_at', 'pw_before', 'arm', 'score', 'label', 'decided_at',
  'event_id', 'event_type', 'picked_position', 'text', 'scrub_rules', 'batch'] as const;
const DECIDED_SELECT = DECIDED_COLUMNS.join(', ');
/** The columns a negative by timeout sets (its event columns are NULL). */
const TIMEOUT_COLUMNS = ['prediction_id', 'ord', 'tp', 'close_at', 'pw_before', 'arm', 'score', 'label', 'decided_at', 'batch'] as const;
/** A decided prediction as stored (the columns of PredRow that later events need). */
type DecidedRow = Pick<PredRow, (typeof DECIDED_COLUMNS)[number]>;
const PENDING_COLS = ['event_id', 'ord', 'prediction_id', 'type', 'te', 'ew_before', 'position', 'value', 'text', 'scrub_rules'] as const;

export type Accumulate = (tx: SqlTx, examples: FeedbackExample[]) => Promise<void>;

/** Entries of each log after the cursors: as read, or already checked into chunks (decode.ts). */
export interface StepInput {
  predictions: readonly LogEntry<unknown>[] | readonly DecodedChunk[];
  events: readonly LogEntry<unknown>[] | readonly DecodedChunk[];
}

function chunksOf(log: 'predictions' | 'events', xs: StepInput['predictions']): readonly DecodedChunk[] {
  return xs.length && 'records' in xs[0]! ? [decodeEntries(log, xs as readonly LogEntry<unknown>[])] : (xs as readonly DecodedChunk[]);
}

export interface StepResult {
  batch: number;
  pred_seq: number;
  event_seq: number;
  examples: number;
  /** of which negatives by timeout (the events' watermark passed their window) */
  timeouts: number;
  /** the events' watermark after the batch (null before any event) */
  watermark: number | null;
}

/**
 * A min-heap of open predictions by a deadline (`key`: the window end; for shadows, the orphan
 * deadline). Keys sit in their own array beside the rows, so sifting compares numbers in one
 * place instead of loading a field of rows strewn over the heap.
 */
class CloseHeap {
  private readonly a: PredRow[] = [];
  private readonly k: number[] = [];
  constructor(private readonly key: (p: PredRow) => number) {}
  get size(): number {
    return this.a.length;
  }
  /** The smallest key (the top's); only when size > 0. */
  peekKey(): number {
    return this.k[0]!;
  }
  push(p: PredRow): void {
    const a = this.a;
    const ks = this.k;
    const k = this.key(p);
    let i = a.length;
    a.push(p);
    ks.push(k);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (ks[up]! <= k) break;
      a[i] = a[up]!;
      ks[i] = ks[up]!;
      i = up;
    }
    a[i] = p;
    ks[i] = k;
  }
  pop(): PredRow | undefined {
    const a = this.a;
    const ks = this.k;
    const top = a[0];
    const last = a.pop();
    const k = ks.pop()!;
    if (a.length && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && ks[l + 1]! < ks[l]! ? l + 1 : l;
        if (ks[c]! >= k) break;
        a[i] = a[c]!;
        ks[i] = ks[c]!;
        i = c;
      }
      a[i] = last;
      ks[i] = k;
    }
    return top;
  }
}

/**
 * The join's open state, in memory: predictions not yet decided (by id, and by window end for the
 * timeout sweep), events waiting for their prediction (by prediction id), and per predictions-log
 * entry the number of its predictions still open (the oldest such entry is where a restart replays
 * from). It mirrors the committed state after batch `batch`; a failed step drops it and the next
 * step rebuilds it (load), so an aborted transaction never leaves memory ahead of the database.
 */
class OpenState {
  readonly open = new Map<string, PredRow>();
  readonly heap = new CloseHeap((p) => p.close_at);
  /** open shadows by the time their main must have arrived by (tp + unmatched timeout) */
  readonly shadowHeap: CloseHeap;
  readonly pending = new Map<string, JoinEvent[]>();
  /** entry seq → the predictions' max time before the entry, and how many of its predictions are open */
  readonly entries = new Map<number, { pmax: number | null; open: number }>();
  shadowsOpen = 0;

  constructor(
    public batch: number,
    unmatchedTimeout: number,
    /** ids decided or quarantined as orphans (a superset: see id-filter.ts), so only maybes are looked up */
    readonly ids: IdFilter,
  ) {
    this.shadowHeap = new CloseHeap((p) => p.tp + unmatchedTimeout);
  }

  add(p: PredRow, pmaxBefore: number | null): void {
    this.open.set(p.prediction_id, p);
    const seq = Math.floor(p.ord / ORD);
    let slot = this.entries.get(seq);
    if (!slot) this.entries.set(seq, (slot = { pmax: pmaxBefore, open: 0 }));
    slot.open++;
    if (isShadow(p.prediction_id)) {
      this.shadowsOpen++;
      this.shadowHeap.push(p);
    } else this.heap.push(p);
  }

  /** `p` was decided: it leaves the open state (its heap slot is skipped when popped). */
  close(p: PredRow): void {
    if (this.open.get(p.prediction_id) !== p) return;
    this.open.delete(p.prediction_id);
    const seq = Math.floor(p.ord / ORD);
    const slot = this.entries.get(seq)!;
    if (--slot.open === 0) this.entries.delete(seq);
    if (isShadow(p.prediction_id)) this.shadowsOpen--;
  }

  addPending(e: JoinEvent): void {
    const list = this.pending.get(e.prediction_id);
    if (list) list.push(e);
    else this.pending.set(e.prediction_id, [e]);
  }

  /** Where a restart replays the predictions log from: the oldest entry with an open prediction. */
  replayPoint(predSeq: number, predMax: number | null): { from: number; pmax: number | null } {
    for (const [seq, slot] of this.entries) return { from: seq, pmax: slot.pmax };
    return { from: predSeq + 1, pmax: predMax };
  }
}

export class FeedbackJoin {
  private readonly rules: Rules;
  private readonly scrub: Scrubber;
  private mem: OpenState | null = null;
  /** where a step's time goes (SLUICE_PROFILE=1); feedback run adds its reads and publishes */
  readonly clock: PhaseClock = phaseClock();

  private constructor(readonly db: SqlDb, readonly spec: JoinSpec, private readonly accumulate?: Accumulate) {
    this.rules = rulesOf(spec);
    this.scrub = makeScrubber(spec.scrub);
  }

  static async open(db: SqlDb, spec: JoinSpec, accumulate?: Accumulate): Promise<FeedbackJoin> {
    await ensureSchema(db);
    return new FeedbackJoin(db, spec, accumulate);
  }

  progress(): Promise<Progress> {
    return readProgress(this.db);
  }

  /**
   * Folds entries after `from`'s cursors into the state in one transaction. `predictionsLog` is read
   * only to rebuild the open predictions after a restart (or a failed step) when some are open.
   */
  step(input: StepInput, from: Pick<Progress, 'pred_seq' | 'event_seq'>, predictionsLog?: EventLog<unknown>): Promise<StepResult> {
    return this.db
      .transaction(async (tx) => {
        const prog = (await tx.get<Progress>(`SELECT * FROM fb_progress WHERE id = 1${forUpdate(this.db)}`))!;
        if (prog.pred_seq !== from.pred_seq || prog.event_seq !== from.event_seq) {
          throw new RetryableError(`the feedback cursors moved (predictions ${from.pred_seq} → ${prog.pred_seq}, events ${from.event_seq} → ${prog.event_seq}): is another \`feedback run\` using this project?`);
        }
        this.clock.lap('other');
        if (!this.mem || this.mem.batch !== Number(prog.batch)) this.mem = await this.load(tx, prog, predictionsLog);
        this.clock.lap('load');
        return new Batch(tx, this.db.dialect, this.spec, this.rules, this.scrub, prog, this.mem, this.clock).run(input, this.accumulate);
      })
      .then(
        (r) => {
          this.clock.lap('commit');
          this.mem!.batch = r.batch;
          return r;
        },
        (e: unknown) => {
          // memory may hold part of the rolled-back batch: rebuild it from the committed state
          this.mem = null;
          throw e;
        },
      );
  }

  /**
   * Rebuilds the open state from the committed one: pending events from their table; open
   * predictions by replaying the predictions log from `replay_from` through the cursor (the same
   * checks, watermarks and first-wins dedup as when they arrived), less those decided since.
   */
  private async load(tx: SqlTx, prog: Progress, log?: EventLog<unknown>): Promise<OpenState> {
    const mem = new OpenState(Number(prog.batch), this.spec.unmatched_timeout, await decidedIds(tx));
    for (const e of await tx.all<JoinEvent>(`SELECT ${PENDING_COLS.join(', ')} FROM fb_pending ORDER BY ord`)) mem.addPending(e);
    const predSeq = Number(prog.pred_seq);
    let seq = Number(prog.replay_from) - 1;
    if (seq >= predSeq) return mem;
    if (!log) throw new UsageError('the feedback join needs its predictions log to rebuild the open predictions after a restart');
    let pmax = prog.replay_pmax === null ? null : Number(prog.replay_pmax);
    const seen = new Map<string, { p: PredRow; pmaxBefore: number | null }>();
    while (seq < predSeq) {
      const entries = await log.read(seq, { max: 100 });
      if (!entries.length) throw new IntegrityError(`the predictions log ends at ${seq}, before the feedback cursor ${predSeq}`);
      for (const entry of entries) {
        if (entry.seq > predSeq) break;
        const before = pmax;
        entry.records.forEach((rec, i) => {
          const c = checkPrediction(rec);
          if (!c.ok) return;
          const pw_before = pmax === null ? null : pmax - this.spec.prediction_delay;
          pmax = pmax === null ? c.cols.tp : Math.max(pmax, c.cols.tp);
          if (seen.has(c.cols.prediction_id)) return;
          seen.set(c.cols.prediction_id, { p: openRow(c.cols, entry.seq * ORD + i, closeAt(this.spec, c.cols.tp), pw_before), pmaxBefore: before });
        });
        seq = entry.seq;
      }
    }
    const decided = new Set((await selectIn<{ prediction_id: string }>(tx, 'SELECT prediction_id FROM fb_predictions WHERE prediction_id IN (%IN%)', [...seen.keys()])).map((r) => r.prediction_id));
    for (const r of await selectIn<{ prediction_id: string }>(tx, 'SELECT prediction_id FROM fb_orphans WHERE prediction_id IN (%IN%)', [...seen.keys()].filter(isShadow))) decided.add(r.prediction_id);
    for (const [id, { p, pmaxBefore }] of seen) if (!decided.has(id)) mem.add(p, pmaxBefore);
    const want = prog.pred_max === null ? null : Number(prog.pred_max);
    if (pmax !== want) throw new IntegrityError(`replaying the predictions log gave max time ${pmax}, the feedback state holds ${want}`);
    return mem;
  }
}

// Spelled out, not `{ ...cols }`: the TypeScript loader lowers object spread to a helper that
// defines each property, which leaves a slow dictionary-mode object (≈60 µs a row here).
function openRow(c: PredColumns, ord: number, close_at: number, pw_before: number | null): PredRow {
  return {
    prediction_id: c.prediction_id, ord, tp: c.tp, close_at, pw_before, model: c.model, version: c.version, arm: c.arm, score: c.score,
    shown: c.shown, fields: c.fields, shape: c.shape, label: null, decided_at: null, event_id: null, event_type: null, picked_position: null, text: null,
    scrub_rules: null, batch: null,
  };
}

/** openRow of record `k` of a chunk's columns (the same properties in the same order). */
function openRowAt(c: PredictionColumns, k: number, shape: Shape, ord: number, close_at: number, pw_before: number | null): PredRow {
  return {
    prediction_id: c.id[k]!, ord, tp: c.tp[k]!, close_at, pw_before, model: c.model[k]!, version: c.version[k]!, arm: c.arm[k]!, score: c.score[k]!,
    shown: c.shown[k]!, fields: c.fields[k]!, shape, label: null, decided_at: null, event_id: null, event_type: null, picked_position: null, text: null,
    scrub_rules: null, batch: null,
  };
}

/** A filter of the ids in fb_predictions and fb_orphans, read in pages by key (a restart after 10M: a few seconds). */
async function decidedIds(tx: SqlTx): Promise<IdFilter> {
  const f = new IdFilter();
  const page = 50_000;
  for (const table of ['fb_predictions', 'fb_orphans']) {
    let after = '';
    for (;;) {
      const rows = await tx.all<{ prediction_id: string }>(`SELECT prediction_id FROM ${table} WHERE prediction_id > ? ORDER BY prediction_id LIMIT ${page}`, [after]);
      for (const r of rows) f.add(r.prediction_id);
      if (rows.length < page) break;
      after = rows[rows.length - 1]!.prediction_id;
    }
  }
  return f;
}

/** A chunk's invalid records by their index in it. */
function badByIndex(chunk: DecodedChunk): Map<number, DecodedChunk['bad'][number]> {
  return new Map(chunk.bad.map((b) => [b.k, b]));
}

/** The decided rows' dataset lines (lines.ts), and their field columns' types. */
function ndjson(rows: readonly PredRow[]): { lines: Buffer; types: FieldTypeMap | null } {
  const types = new FieldTypes(ROW_COLUMNS);
  for (const p of rows) types.addShape(p.shape, fieldColumn);
  return { lines: exampleLines(rows), types: types.result() };
}

/** The work of one step, inside its transaction. */
class Batch {
  private readonly counts = new Map<string, number>();
  private readonly quarantine: Param[][] = [];
  /** decided predictions of earlier batches that this batch's events name */
  private readonly loaded = new Map<string, DecidedRow>();
  /** predictions decided in this batch by an event (in order) and by id */
  private readonly decided: PredRow[] = [];
  private readonly decidedById = new Map<string, PredRow>();
  private readonly late: { p: DecidedRow; e: JoinEvent }[] = [];
  /** shadow predictions first seen in this batch */
  private readonly freshShadows: string[] = [];
  private readonly batch: number;
  private predMax: number | null;
  private eventMax: number | null;

  constructor(private readonly tx: SqlTx, private readonly db: SqlDb['dialect'], private readonly spec: JoinSpec, private readonly rules: Rules, private readonly scrub: Scrubber, private readonly prog: Progress, private readonly mem: OpenState, private readonly clock: PhaseClock) {
    this.batch = Number(prog.batch) + 1;
    this.predMax = prog.pred_max === null ? null : Number(prog.pred_max);
    this.eventMax = prog.event_max === null ? null : Number(prog.event_max);
  }

  private inc(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  private quarantined(source: string, ord: number, eventId: string | null, reason: string, record: unknown): void {
    this.quarantinedJson(source, ord, eventId, reason, JSON.stringify(record) ?? String(record));
  }

  /** quarantined() of a record already written as JSON (a chunk's invalid records). */
  private quarantinedJson(source: string, ord: number, eventId: string | null, reason: string, json: string): void {
    this.quarantine.push([source, ord, eventId, reason, this.scrub(json).text, this.batch]);
  }

  /** The prediction `id` as this batch sees it: open, decided in this batch, or decided earlier. */
  private pred(id: string): DecidedRow | undefined {
    return this.mem.open.get(id) ?? this.decidedById.get(id) ?? this.loaded.get(id);
  }

  async run(input: StepInput, accumulate?: Accumulate): Promise<StepResult> {
    const predSeq = await this.predictions(chunksOf('predictions', input.predictions));
    this.clock.lap('predictions');
    const eventSeq = await this.events(chunksOf('events', input.events));
    this.clock.lap('events');
    const { examples, timeouts } = await this.finish(accumulate);
    const replay = this.mem.replayPoint(predSeq, this.predMax);
    await this.tx.run('UPDATE fb_progress SET pred_seq = ?, event_seq = ?, pred_max = ?, event_max = ?, batch = ?, replay_from = ?, replay_pmax = ? WHERE id = 1', [
      predSeq, eventSeq, this.predMax, this.eventMax, this.batch, replay.from, replay.pmax,
    ]);
    return { batch: this.batch, pred_seq: predSeq, event_seq: eventSeq, examples, timeouts, watermark: this.eventMax === null ? null : this.eventMax - this.spec.watermark_delay };
  }

  /** New predictions: kept open with the watermark they arrived under; events that waited for them are joined. */
  private async predictions(chunks: readonly DecodedChunk[]): Promise<number> {
    let seq = Number(this.prog.pred_seq);
    const fresh = new Map<string, PredRow>();
    /** entry seq → the predictions' max time before it */
    const pmaxBefore = new Map<number, number | null>();
    for (const chunk of chunks) {
      const c = chunk.predictions!;
      const shapes = chunkShapes(c);
      seq = this.records(chunk, seq, 'predictions', (eseq) => pmaxBefore.set(eseq, this.predMax), (k, ord) => {
        const id = c.id[k]!;
        const tp = c.tp[k]!;
        const pw_before = this.predMax === null ? null : this.predMax - this.spec.prediction_delay;
        this.predMax = this.predMax === null ? tp : Math.max(this.predMax, tp);
        if (fresh.has(id) || this.mem.open.has(id)) return this.inc('prediction_duplicates');
        fresh.set(id, openRowAt(c, k, shapes[c.shape[k]!]!, ord, closeAt(this.spec, tp), pw_before));
      });
    }
    this.clock.lap('predictions: check');
    if (!fresh.size) return seq;
    // a prediction decided in an earlier batch is a duplicate too (and a shadow quarantined as an orphan)
    const maybe = [...fresh.keys()].filter((id) => this.mem.ids.mightHave(id));
    const dups = await selectIn<{ prediction_id: string }>(this.tx, 'SELECT prediction_id FROM fb_predictions WHERE prediction_id IN (%IN%)', maybe);
    dups.push(...(await selectIn<{ prediction_id: string }>(this.tx, 'SELECT prediction_id FROM fb_orphans WHERE prediction_id IN (%IN%)', maybe.filter(isShadow))));
    for (const { prediction_id } of dups) {
      fresh.delete(prediction_id);
      this.inc('prediction_duplicates');
    }
    this.clock.lap('predictions: dedup lookup');
    this.inc('predictions', fresh.size);
    const waiting: JoinEvent[] = [];
    for (const [id, p] of fresh) {
      this.mem.add(p, pmaxBefore.get(Math.floor(p.ord / ORD)) ?? null);
      if (isShadow(id)) this.freshShadows.push(id);
      const w = this.mem.pending.get(id);
      if (w) {
        waiting.push(...w);
        this.mem.pending.delete(id);
      }
    }
    this.inc('shadow_predictions', this.freshShadows.length);
    if (!waiting.length) return seq;
    waiting.sort((a, b) => a.ord - b.ord);
    // their new dispositions, one UPDATE per kind (one per event was most of this when many waited)
    const moved = new Map<Disposition, string[]>();
    for (const e of waiting) {
      const d = this.join(this.pred(e.prediction_id)!, e);
      const ids = moved.get(d);
      if (ids) ids.push(e.event_id);
      else moved.set(d, [e.event_id]);
    }
    this.inc('pending', -waiting.length);
    await runIn(this.tx, 'DELETE FROM fb_pending WHERE event_id IN (%IN%)', waiting.map((e) => e.event_id));
    for (const [d, ids] of moved) await runIn(this.tx, 'UPDATE fb_events SET disposition = ? WHERE event_id IN (%IN%)', ids, [d]);
    return seq;
  }

  /**
   * Walks a chunk's entries after `after`: `entry(seq)` before each entry's records, `each(k, ord)`
   * for each record that passed its check (k: its index in the chunk); the others are quarantined
   * and counted as `<log>_invalid`. Returns the last entry's seq (or `after`).
   */
  private records(chunk: DecodedChunk, after: number, log: 'predictions' | 'events', entry: (seq: number) => void, each: (k: number, ord: number) => void): number {
    const bad = badByIndex(chunk);
    let seq = after;
    let k = 0;
    for (let j = 0; j < chunk.seqs.length; j++) {
      const eseq = chunk.seqs[j]!;
      const n = chunk.counts[j]!;
      if (eseq <= seq) {
        k += n;
        continue;
      }
      entry(eseq);
      for (let i = 0; i < n; i++, k++) {
        const ord = eseq * ORD + i;
        if (chunk.ok[k]) each(k, ord);
        else {
          const b = bad.get(k)!;
          this.quarantinedJson(log, ord, null, b.reason, b.json);
          this.inc(`${log}_invalid`);
        }
      }
      seq = eseq;
    }
    return seq;
  }

  /** A matched or unmatched event against its (present) prediction. */
  private join(row: DecidedRow, e: JoinEvent): Disposition {
    // only an open prediction (label null: a whole row, in memory) can be decided here
    const p = row as PredRow;
    if (!matches(this.spec, p, e)) {
      this.quarantined('events', e.ord, e.event_id, `unmatched: prediction ${p.prediction_id} arrived after the predictions' watermark passed event time + ${this.spec.unmatched_timeout} ms`, e);
      this.inc('unmatched');
      return 'unmatched';
    }
    const d = classify(this.rules, p, e);
    this.inc(d);
    if (d === 'late') this.late.push({ p, e });
    if (d === 'decided') {
      const rule = this.rules.get(e.type)!;
      p.label = rule.label;
      p.decided_at = e.te;
      p.event_id = e.event_id;
      p.event_type = e.type;
      p.picked_position = rule.position ? e.position : null;
      p.text = e.text;
      p.scrub_rules = e.scrub_rules;
      p.score = pickedScore(p.shown, p.picked_position, p.score);
      p.batch = this.batch;
      this.decided.push(p);
      this.decidedById.set(p.prediction_id, p);
      this.mem.close(p);
    }
    return d;
  }

  /** New events: validated, deduplicated by event_id, joined, or left pending for their prediction. */
  private async events(chunks: readonly DecodedChunk[]): Promise<number> {
    let seq = Number(this.prog.event_seq);
    const fresh: JoinEvent[] = [];
    const inBatch = new Set<string>();
    for (const chunk of chunks) {
      const c = chunk.events!;
      seq = this.records(chunk, seq, 'events', () => undefined, (k, ord) => {
        const te = c.time[k]!;
        const eventId = c.eventId[k]!;
        const ew_before = this.eventMax === null ? null : this.eventMax - this.spec.watermark_delay;
        this.eventMax = this.eventMax === null ? te : Math.max(this.eventMax, te);
        if (inBatch.has(eventId)) return this.inc('duplicates');
        inBatch.add(eventId);
        let text: string | null = null;
        let rules: string | null = null;
        const raw = c.text[k]!;
        if (raw !== null) {
          const s = this.scrub(raw);
          text = s.text;
          rules = mergeRules(c.scrubbed[k] ?? undefined, s.rules).join(',');
        }
        const position = c.position[k]!;
        const value = c.value[k]!;
        fresh.push({
          event_id: eventId, prediction_id: c.predictionId[k]!, type: c.type[k]!, te, ew_before, ord,
          position: Number.isNaN(position) ? null : position, value: Number.isNaN(value) ? null : value, text, scrub_rules: rules,
        });
      });
    }
    if (!fresh.length) return seq;
    const seen = new Set((await selectIn<{ event_id: string }>(this.tx, 'SELECT event_id FROM fb_events WHERE event_id IN (%IN%)', fresh.map((e) => e.event_id))).map((r) => r.event_id));
    const first = seen.size ? fresh.filter((e) => !seen.has(e.event_id)) : fresh;
    this.inc('duplicates', fresh.length - first.length);
    this.inc('events', first.length);
    // Each event's prediction is found once (with a million open predictions, each look in the maps
    // is a cache miss): joining an event decides its prediction in place, so later events of this
    // batch that name it hold the same row.
    const rows: (DecidedRow | undefined)[] = new Array(first.length);
    const need = new Set<string>();
    for (let i = 0; i < first.length; i++) {
      const id = first[i]!.prediction_id;
      if (!(rows[i] = this.pred(id)) && this.mem.ids.mightHave(id)) need.add(id);
    }
    for (const p of await selectIn<DecidedRow>(this.tx, `SELECT ${DECIDED_SELECT} FROM fb_predictions WHERE prediction_id IN (%IN%)`, [...need])) this.loaded.set(p.prediction_id, p);
    const registry: Param[][] = [];
    const pending: Param[][] = [];
    for (let i = 0; i < first.length; i++) {
      const e = first[i]!;
      const p = rows[i] ?? (need.has(e.prediction_id) ? this.loaded.get(e.prediction_id) : undefined);
      let d: Disposition;
      if (p) d = this.join(p, e);
      else {
        d = 'pending';
        this.inc('pending');
        this.mem.addPending(e);
        pending.push(PENDING_COLS.map((c) => e[c]));
      }
      registry.push([e.event_id, e.ord, e.prediction_id, d]);
    }
    await insertMany(this.tx, 'fb_events', ['event_id', 'ord', 'prediction_id', 'disposition'], registry);
    await insertMany(this.tx, 'fb_pending', [...PENDING_COLS], pending);
    return seq;
  }

  /** Sweeps what the watermarks decided, records corrections, writes the decided examples; returns their number. */
  private async finish(accumulate?: Accumulate): Promise<{ examples: number; timeouts: number }> {
    const tx = this.tx;
    // Events still waiting when the predictions' watermark passed event time + timeout will never match.
    if (this.predMax !== null && this.mem.pending.size) {
      const gone = await tx.all<JoinEvent>(`DELETE FROM fb_pending WHERE te <= ? RETURNING ${PENDING_COLS.join(', ')}`, [this.predMax - this.spec.prediction_delay - this.spec.unmatched_timeout]);
      gone.sort((a, b) => a.ord - b.ord);
      for (const e of gone) {
        this.quarantined('events', e.ord, e.event_id, `unmatched: no prediction ${e.prediction_id} before the predictions' watermark passed event time + ${this.spec.unmatched_timeout} ms`, e);
        const left = this.mem.pending.get(e.prediction_id)?.filter((x) => x.event_id !== e.event_id);
        if (left?.length) this.mem.pending.set(e.prediction_id, left);
        else this.mem.pending.delete(e.prediction_id);
      }
      await runIn(tx, `UPDATE fb_events SET disposition = 'unmatched' WHERE event_id IN (%IN%)`, gone.map((e) => e.event_id));
      this.inc('unmatched', gone.length);
      this.inc('pending', -gone.length);
    }
    this.clock.lap('pending sweep');
    // Predictions whose window (plus lateness) closed under the events' watermark are negatives.
    const negatives: PredRow[] = [];
    if (this.eventMax !== null) {
      const w = this.eventMax - this.spec.watermark_delay;
      const heap = this.mem.heap;
      while (heap.size && heap.peekKey() <= w) {
        const p = heap.pop()!;
        if (this.mem.open.get(p.prediction_id) !== p) continue; // decided by an event meanwhile
        p.label = 0;
        p.decided_at = p.close_at;
        p.batch = this.batch;
        this.mem.close(p);
        negatives.push(p);
      }
    }
    this.clock.lap('timeout sweep');
    if (this.spec.corrections) {
      const corrections: Param[][] = [];
      for (const { p, e } of this.late) {
        const rule = this.rules.get(e.type)!;
        if (p.label !== null && p.label !== rule.label) corrections.push([e.event_id, p.prediction_id, rule.label, p.label, e.te, this.batch]);
      }
      await insertMany(tx, 'fb_corrections', ['event_id', 'prediction_id', 'label', 'was', 'te', 'batch'], corrections);
      this.inc('corrections', corrections.length);
    }
    this.inc('positives', this.decided.filter((p) => p.label === 1).length);
    this.inc('negatives', negatives.length + this.decided.filter((p) => p.label === 0).length);
    const shadows = await this.shadows([...this.decided, ...negatives]);
    this.inc('shadow_examples', shadows.length);
    shadows.push(...(await this.orphans()));
    await insertMany(tx, 'fb_quarantine', ['source', 'ord', 'event_id', 'reason', 'record', 'batch'], this.quarantine);
    this.inc('quarantined', this.quarantine.length);
    await addCounts(tx, this.counts);
    this.clock.lap('quarantine, corrections, shadows, counts');
    const all = [...this.decided, ...negatives, ...shadows];
    for (const p of all) this.mem.ids.add(p.prediction_id);
    // Negatives by timeout (most rows) have no deciding event: their event columns stay NULL
    // without binding five NULLs a row (a third fewer parameters for them).
    await insertObjects(tx, 'fb_predictions', DECIDED_COLUMNS, [...this.decided, ...shadows]);
    await insertObjects(tx, 'fb_predictions', TIMEOUT_COLUMNS, negatives);
    this.clock.lap('write decided');
    if (all.length) {
      const { lines, types } = ndjson(all);
      this.clock.lap('example lines');
      // SQLite stores the UTF-8 bytes as they are (a BLOB: no string to encode now or decode when
      // published); PostgreSQL's column is text.
      const blob = this.db === 'sqlite' ? (lines as unknown as Param) : lines.toString('utf8');
      // the field columns' types (null: not known here), so the publish need not infer them
      await tx.run('INSERT INTO fb_outbox (batch, n, lines, types) VALUES (?, ?, ?, ?)', [this.batch, all.length, blob, types && JSON.stringify(types)]);
    }
    this.clock.lap('write examples');
    if (accumulate && all.length) await accumulate(tx, all.map(toExample));
    this.clock.lap('metrics');
    return { examples: all.length, timeouts: negatives.length };
  }

  /**
   * A shadow prediction (`<id>/shadow`, scored by a candidate version on a copy of the request) was
   * never shown, so no event can name it: it takes the outcome of the prediction it shadows, once
   * that one is decided (now, or in an earlier batch when the shadow arrives late), with its own
   * score. This is what makes a shadow version measurable on live traffic. Shadows are never
   * decided by the timeout sweep and are counted apart from positives and negatives. A shadow pairs
   * only with a main that arrived before it or in time for it (`shadowMatches`); else it is an orphan.
   */
  private async shadows(decidedNow: PredRow[]): Promise<PredRow[]> {
    // Most joins never see a shadow: then there is nothing to look up.
    if (!this.mem.shadowsOpen) return [];
    const ids = new Set(this.freshShadows);
    for (const p of decidedNow) if (!isShadow(p.prediction_id)) ids.add(p.prediction_id + SHADOW);
    const open: PredRow[] = [];
    for (const id of ids) {
      const sh = this.mem.open.get(id);
      if (sh && sh.label === null) open.push(sh);
    }
    if (!open.length) return [];
    const mains = new Map<string, DecidedRow>(decidedNow.map((m) => [m.prediction_id, m]));
    const ask = open.map((p) => mainOf(p.prediction_id)).filter((id) => !mains.has(id) && !this.mem.open.has(id));
    for (const m of await selectIn<DecidedRow>(this.tx, `SELECT ${DECIDED_SELECT} FROM fb_predictions WHERE prediction_id IN (%IN%)`, ask)) mains.set(m.prediction_id, m);
    const out: PredRow[] = [];
    for (const sh of open) {
      const m = mains.get(mainOf(sh.prediction_id));
      if (!m || m.label === null || !shadowMatches(this.spec, m, sh)) continue;
      out.push(this.takeOutcome(sh, m));
    }
    return out;
  }

  /** The shadow `sh` takes its (decided) main's outcome, with its own score, and is closed. */
  private takeOutcome(sh: PredRow, m: DecidedRow): PredRow {
    Object.assign(sh, {
      label: m.label, decided_at: m.decided_at, event_id: m.event_id, event_type: m.event_type, picked_position: m.picked_position,
      text: m.text, scrub_rules: m.scrub_rules, batch: this.batch,
    });
    this.mem.close(sh);
    return sh;
  }

  /**
   * Shadows whose main has not arrived in time when the predictions' watermark passes their time +
   * the unmatched timeout: no main can pair with them any more (one arriving now has a later
   * watermark), so they are quarantined as orphans (recorded in fb_orphans, so a replay or a
   * duplicate of them does not reopen them). Returns shadows that, on the way, turn out to have a
   * decided main (their examples).
   */
  private async orphans(): Promise<PredRow[]> {
    const heap = this.mem.shadowHeap;
    if (this.predMax === null || !heap.size) return [];
    const pw = this.predMax - this.spec.prediction_delay;
    const due: PredRow[] = [];
    while (heap.size && heap.peekKey() <= pw) {
      const sh = heap.pop()!;
      if (this.mem.open.get(sh.prediction_id) === sh) due.push(sh);
    }
    if (!due.length) return [];
    const mains = new Map<string, DecidedRow>();
    const ask: string[] = [];
    for (const sh of due) {
      const id = mainOf(sh.prediction_id);
      const m = this.mem.open.get(id) ?? this.decidedById.get(id);
      if (m) mains.set(id, m);
      else ask.push(id);
    }
    for (const m of await selectIn<DecidedRow>(this.tx, `SELECT ${DECIDED_SELECT} FROM fb_predictions WHERE prediction_id IN (%IN%)`, ask)) mains.set(m.prediction_id, m);
    const out: PredRow[] = [];
    const orphans: Param[][] = [];
    due.sort((a, b) => a.ord - b.ord);
    for (const sh of due) {
      const m = mains.get(mainOf(sh.prediction_id));
      if (m && shadowMatches(this.spec, m, sh)) {
        // its main is here in time: it is decided with it (now, when already decided)
        if (m.label !== null) out.push(this.takeOutcome(sh, m));
        continue;
      }
      this.mem.close(sh);
      this.mem.ids.add(sh.prediction_id);
      orphans.push([sh.prediction_id, sh.ord, this.batch]);
      this.quarantined('predictions', sh.ord, null, `orphan shadow: no prediction ${mainOf(sh.prediction_id)} before the predictions' watermark passed the shadow's time + ${this.spec.unmatched_timeout} ms`, {
        prediction_id: sh.prediction_id, time: sh.tp, model: sh.model, version: sh.version, arm: sh.arm, score: sh.score, fields: sh.fields,
      });
    }
    await insertMany(this.tx, 'fb_orphans', ['prediction_id', 'ord', 'batch'], orphans);
    this.inc('shadow_orphans', orphans.length);
    this.inc('shadow_examples', out.length);
    return out;
  }
}

