// The exactly-once join: one call to `step` folds a batch of prediction-log and event-log entries
// into the state and commits, in ONE transaction, the dedup registry, join state, decided examples
// (the outbox), quarantine, counts, incremental metrics and both log cursors. A crash before the
// commit loses nothing (the logs are re-read after the stored cursors); after it, nothing is redone.
//
// Example: const j = await FeedbackJoin.open(db, spec); await j.step({ predictions, events }, await j.progress());
import { RetryableError } from '../core/errors.ts';
import type { LogEntry } from '../log/event-log.ts';
import { forUpdate, type Param, type SqlDb, type SqlTx } from '../store/sql.ts';
import { classify, closeAt, matches, rulesOf, type Disposition, type JoinEvent, type PredState, type Rules } from './decide.ts';
import { checkPrediction, pickedScore, type PredColumns } from './predictions.ts';
import type { FeedbackExample } from './records.ts';
import { makeScrubber, mergeRules, type Scrubber } from './scrub.ts';
import type { JoinSpec } from './spec.ts';
import { addCounts, ensureSchema, insertMany, readProgress, runIn, selectIn, type Progress } from './state.ts';
import { checkEvent } from './validate.ts';

/** The id suffix `sluice serve` gives a shadow version's copy of a prediction. */
export const SHADOW = '/shadow';
const isShadow = (id: string) => id.endsWith(SHADOW);
const mainOf = (id: string) => id.slice(0, -SHADOW.length);

/** A record's place in its log: entry seq × ORD + index in the entry (entries hold fewer records). */
export const ORD = 1_000_000;

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

const PRED_COLS = ['prediction_id', 'ord', 'tp', 'close_at', 'pw_before', 'model', 'version', 'arm', 'score', 'shown', 'fields'] as const;
export const PRED_SELECT = `prediction_id, ord, tp, close_at, pw_before, model, version, arm, score, shown, fields, label, decided_at,
  event_id, event_type, picked_position, text, scrub_rules, batch`;
const PENDING_COLS = ['event_id', 'ord', 'prediction_id', 'type', 'te', 'ew_before', 'position', 'value', 'text', 'scrub_rules'] as const;

export type Accumulate = (tx: SqlTx, examples: FeedbackExample[]) => Promise<void>;

export interface StepInput {
  predictions: LogEntry<unknown>[];
  events: LogEntry<unknown>[];
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

export function toExample(p: PredRow): FeedbackExample {
  return {
    prediction_id: p.prediction_id,
    model: p.model,
    model_version: p.version,
    arm: p.arm,
    predicted_at: p.tp,
    decided_at: p.decided_at!,
    label: p.label === 1 ? 1 : 0,
    score: p.score,
    event_id: p.event_id,
    event_type: p.event_type,
    picked_position: p.picked_position,
    shown_count: p.shown === null ? null : (JSON.parse(p.shown) as unknown[]).length,
    text: p.text,
    scrub_rules: p.scrub_rules,
    // Parsed on first use: the metrics read fields only for their slices, and most batches are
    // millions of timeout negatives.
    get fields(): Record<string, unknown> {
      const value = JSON.parse(p.fields) as Record<string, unknown>;
      Object.defineProperty(this, 'fields', { value, enumerable: true });
      return value;
    },
  };
}

export class FeedbackJoin {
  private readonly rules: Rules;
  private readonly scrub: Scrubber;

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

  /** Folds entries after `from`'s cursors into the state in one transaction. */
  step(input: StepInput, from: Pick<Progress, 'pred_seq' | 'event_seq'>): Promise<StepResult> {
    return this.db.transaction(async (tx) => {
      const prog = (await tx.get<Progress>(`SELECT * FROM fb_progress WHERE id = 1${forUpdate(this.db)}`))!;
      if (prog.pred_seq !== from.pred_seq || prog.event_seq !== from.event_seq) {
        throw new RetryableError(`the feedback cursors moved (predictions ${from.pred_seq} → ${prog.pred_seq}, events ${from.event_seq} → ${prog.event_seq}): is another \`feedback run\` using this project?`);
      }
      return new Batch(tx, this.spec, this.rules, this.scrub, prog).run(input, this.accumulate);
    });
  }
}

/** The work of one step, inside its transaction. */
class Batch {
  private readonly counts = new Map<string, number>();
  private readonly quarantine: Param[][] = [];
  private readonly preds = new Map<string, PredRow>();
  private readonly decided: PredRow[] = [];
  private readonly late: { p: PredRow; e: JoinEvent }[] = [];
  /** shadow predictions first seen in this batch */
  private readonly freshShadows: string[] = [];
  private readonly batch: number;
  private predMax: number | null;
  private eventMax: number | null;

  constructor(private readonly tx: SqlTx, private readonly spec: JoinSpec, private readonly rules: Rules, private readonly scrub: Scrubber, private readonly prog: Progress) {
    this.batch = prog.batch + 1;
    this.predMax = prog.pred_max === null ? null : Number(prog.pred_max);
    this.eventMax = prog.event_max === null ? null : Number(prog.event_max);
  }

  private inc(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  private quarantined(source: string, ord: number, eventId: string | null, reason: string, record: unknown): void {
    this.quarantine.push([source, ord, eventId, reason, this.scrub(JSON.stringify(record) ?? String(record)).text, this.batch]);
  }

  async run(input: StepInput, accumulate?: Accumulate): Promise<StepResult> {
    const predSeq = await this.predictions(input.predictions);
    const eventSeq = await this.events(input.events);
    const { examples, timeouts } = await this.finish(accumulate);
    const tx = this.tx;
    await tx.run('UPDATE fb_progress SET pred_seq = ?, event_seq = ?, pred_max = ?, event_max = ?, batch = ? WHERE id = 1', [predSeq, eventSeq, this.predMax, this.eventMax, this.batch]);
    return { batch: this.batch, pred_seq: predSeq, event_seq: eventSeq, examples, timeouts, watermark: this.eventMax === null ? null : this.eventMax - this.spec.watermark_delay };
  }

  /** New predictions: stored with the watermark they arrived under; events that waited for them are joined. */
  private async predictions(entries: LogEntry<unknown>[]): Promise<number> {
    let seq = this.prog.pred_seq;
    const fresh = new Map<string, PredRow>();
    for (const entry of entries) {
      if (entry.seq <= seq) continue;
      entry.records.forEach((rec, i) => {
        const ord = entry.seq * ORD + i;
        const c = checkPrediction(rec);
        if (!c.ok) {
          this.quarantined('predictions', ord, null, c.reason, rec);
          return this.inc('predictions_invalid');
        }
        const pw_before = this.predMax === null ? null : this.predMax - this.spec.prediction_delay;
        this.predMax = this.predMax === null ? c.cols.tp : Math.max(this.predMax, c.cols.tp);
        if (fresh.has(c.cols.prediction_id)) return this.inc('prediction_duplicates');
        fresh.set(c.cols.prediction_id, {
          ...c.cols, ord, close_at: closeAt(this.spec, c.cols.tp), pw_before, label: null, decided_at: null, event_id: null,
          event_type: null, picked_position: null, text: null, scrub_rules: null, batch: null,
        });
      });
      seq = entry.seq;
    }
    if (!fresh.size) return seq;
    const rows = [...fresh.values()].map((p) => PRED_COLS.map((c) => p[c]));
    const inserted = await insertMany<{ prediction_id: string }>(this.tx, 'fb_predictions', [...PRED_COLS], rows, 'ON CONFLICT (prediction_id) DO NOTHING RETURNING prediction_id');
    this.inc('predictions', inserted.length);
    this.inc('prediction_duplicates', fresh.size - inserted.length);
    for (const { prediction_id } of inserted) this.preds.set(prediction_id, fresh.get(prediction_id)!);
    for (const { prediction_id } of inserted) if (isShadow(prediction_id)) this.freshShadows.push(prediction_id);
    this.inc('shadow_predictions', this.freshShadows.length);
    const waiting = await selectIn<JoinEvent>(this.tx, `SELECT ${PENDING_COLS.join(', ')} FROM fb_pending WHERE prediction_id IN (%IN%)`, inserted.map((r) => r.prediction_id));
    if (!waiting.length) return seq;
    waiting.sort((a, b) => a.ord - b.ord);
    const moved: Param[][] = [];
    for (const e of waiting) moved.push([this.join(this.preds.get(e.prediction_id)!, e), e.event_id]);
    this.inc('pending', -waiting.length);
    await runIn(this.tx, 'DELETE FROM fb_pending WHERE event_id IN (%IN%)', waiting.map((e) => e.event_id));
    for (const m of moved) await this.tx.run('UPDATE fb_events SET disposition = ? WHERE event_id = ?', m);
    return seq;
  }

  /** A matched or unmatched event against its (present) prediction. */
  private join(p: PredRow, e: JoinEvent): Disposition {
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
    }
    return d;
  }

  /** New events: validated, deduplicated by event_id, joined, or left pending for their prediction. */
  private async events(entries: LogEntry<unknown>[]): Promise<number> {
    let seq = this.prog.event_seq;
    const fresh: JoinEvent[] = [];
    const inBatch = new Set<string>();
    for (const entry of entries) {
      if (entry.seq <= seq) continue;
      entry.records.forEach((rec, i) => {
        const ord = entry.seq * ORD + i;
        const c = checkEvent(rec);
        if (!c.ok) {
          this.quarantined('events', ord, null, c.reason, rec);
          return this.inc('events_invalid');
        }
        const ev = c.event;
        const ew_before = this.eventMax === null ? null : this.eventMax - this.spec.watermark_delay;
        this.eventMax = this.eventMax === null ? ev.time : Math.max(this.eventMax, ev.time);
        if (inBatch.has(ev.event_id)) return this.inc('duplicates');
        inBatch.add(ev.event_id);
        let text: string | null = null;
        let rules: string | null = null;
        if (ev.text !== undefined) {
          const s = this.scrub(ev.text);
          text = s.text;
          rules = mergeRules(ev.scrubbed, s.rules).join(',');
        }
        fresh.push({
          event_id: ev.event_id, prediction_id: ev.prediction_id, type: ev.type, te: ev.time, ew_before, ord,
          position: ev.position ?? null, value: ev.value ?? null, text, scrub_rules: rules,
        });
      });
      seq = entry.seq;
    }
    if (!fresh.length) return seq;
    const seen = new Set((await selectIn<{ event_id: string }>(this.tx, 'SELECT event_id FROM fb_events WHERE event_id IN (%IN%)', fresh.map((e) => e.event_id))).map((r) => r.event_id));
    const first = seen.size ? fresh.filter((e) => !seen.has(e.event_id)) : fresh;
    this.inc('duplicates', fresh.length - first.length);
    this.inc('events', first.length);
    const need = [...new Set(first.map((e) => e.prediction_id))].filter((id) => !this.preds.has(id));
    for (const p of await selectIn<PredRow>(this.tx, `SELECT ${PRED_SELECT} FROM fb_predictions WHERE prediction_id IN (%IN%)`, need)) this.preds.set(p.prediction_id, p);
    const registry: Param[][] = [];
    const pending: Param[][] = [];
    for (const e of first) {
      const p = this.preds.get(e.prediction_id);
      let d: Disposition;
      if (p) d = this.join(p, e);
      else {
        d = 'pending';
        this.inc('pending');
        pending.push(PENDING_COLS.map((c) => e[c]));
      }
      registry.push([e.event_id, e.ord, e.prediction_id, d]);
    }
    await insertMany(this.tx, 'fb_events', ['event_id', 'ord', 'prediction_id', 'disposition'], registry);
    await insertMany(this.tx, 'fb_pending', [...PENDING_COLS], pending);
    return seq;
  }

  /** Writes decisions, sweeps what the watermarks decided, records corrections; returns the number of examples. */
  private async finish(accumulate?: Accumulate): Promise<{ examples: number; timeouts: number }> {
    const tx = this.tx;
    await updateDecided(tx, this.decided);
    // Events still waiting when the predictions' watermark passed event time + timeout will never match.
    if (this.predMax !== null) {
      const gone = await tx.all<JoinEvent>(`DELETE FROM fb_pending WHERE te <= ? RETURNING ${PENDING_COLS.join(', ')}`, [this.predMax - this.spec.prediction_delay - this.spec.unmatched_timeout]);
      for (const e of gone) {
        this.quarantined('events', e.ord, e.event_id, `unmatched: no prediction ${e.prediction_id} before the predictions' watermark passed event time + ${this.spec.unmatched_timeout} ms`, e);
        await tx.run(`UPDATE fb_events SET disposition = 'unmatched' WHERE event_id = ?`, [e.event_id]);
      }
      this.inc('unmatched', gone.length);
      this.inc('pending', -gone.length);
    }
    // Predictions whose window (plus lateness) closed under the events' watermark are negatives.
    let negatives: PredRow[] = [];
    if (this.eventMax !== null) {
      negatives = await tx.all<PredRow>(
        `UPDATE fb_predictions SET label = 0, decided_at = close_at, batch = ? WHERE label IS NULL AND close_at <= ? AND prediction_id NOT LIKE '%${SHADOW}' RETURNING ${PRED_SELECT}`,
        [this.batch, this.eventMax - this.spec.watermark_delay],
      );
      for (const n of negatives) {
        const p = this.preds.get(n.prediction_id);
        if (p) p.label = 0;
      }
    }
    if (this.spec.corrections) {
      const corrections: Param[][] = [];
      for (const { p, e } of this.late) {
        const rule = this.rules.get(e.type)!;
        if (p.label !== null && p.label !== rule.label) corrections.push([e.event_id, p.prediction_id, rule.label, p.label, e.te, this.batch]);
      }
      await insertMany(tx, 'fb_corrections', ['event_id', 'prediction_id', 'label', 'was', 'te', 'batch'], corrections);
      this.inc('corrections', corrections.length);
    }
    await insertMany(tx, 'fb_quarantine', ['source', 'ord', 'event_id', 'reason', 'record', 'batch'], this.quarantine);
    this.inc('quarantined', this.quarantine.length);
    this.inc('positives', this.decided.filter((p) => p.label === 1).length);
    this.inc('negatives', negatives.length + this.decided.filter((p) => p.label === 0).length);
    const shadows = await this.shadows([...this.decided, ...negatives]);
    this.inc('shadow_examples', shadows.length);
    await addCounts(tx, this.counts);
    const examples = this.decided.length + negatives.length + shadows.length;
    if (accumulate && examples) await accumulate(tx, [...this.decided, ...negatives, ...shadows].map(toExample));
    return { examples, timeouts: negatives.length };
  }

  /**
   * A shadow prediction (`<id>/shadow`, scored by a candidate version on a copy of the request) was
   * never shown, so no event can name it: it takes the outcome of the prediction it shadows, once
   * that one is decided (now, or in an earlier batch when the shadow arrives late), with its own
   * score. This is what makes a shadow version measurable on live traffic. Shadows are never
   * decided by the timeout sweep and are counted apart from positives and negatives.
   */
  private async shadows(decidedNow: PredRow[]): Promise<PredRow[]> {
    // Most joins never see a shadow: then there is nothing to look up.
    if (!this.freshShadows.length) {
      const seen = await this.tx.get<{ n: number }>(`SELECT n FROM fb_counts WHERE name = 'shadow_predictions'`);
      if (!seen || Number(seen.n) === 0) return [];
    }
    const ids = new Set(this.freshShadows);
    for (const p of decidedNow) if (!isShadow(p.prediction_id)) ids.add(p.prediction_id + SHADOW);
    if (!ids.size) return [];
    const open = await selectIn<PredRow>(this.tx, `SELECT ${PRED_SELECT} FROM fb_predictions WHERE label IS NULL AND prediction_id IN (%IN%)`, [...ids]);
    if (!open.length) return [];
    const mains = new Map(
      (await selectIn<PredRow>(this.tx, `SELECT ${PRED_SELECT} FROM fb_predictions WHERE label IS NOT NULL AND prediction_id IN (%IN%)`, open.map((p) => mainOf(p.prediction_id)))).map((m) => [m.prediction_id, m]),
    );
    const out: PredRow[] = [];
    for (const sh of open) {
      const m = mains.get(mainOf(sh.prediction_id));
      if (!m) continue;
      Object.assign(sh, {
        label: m.label, decided_at: m.decided_at, event_id: m.event_id, event_type: m.event_type, picked_position: m.picked_position,
        text: m.text, scrub_rules: m.scrub_rules, batch: this.batch,
      });
      out.push(sh);
    }
    await updateDecided(this.tx, out);
    return out;
  }
}

// One UPDATE … FROM a VALUES list per chunk instead of one statement per decided prediction (the
// casts type the parameters for PostgreSQL; SQLite accepts them as affinities).
const DECIDED_COLS: [keyof PredRow, string][] = [
  ['prediction_id', 'TEXT'], ['label', 'INTEGER'], ['decided_at', 'BIGINT'], ['event_id', 'TEXT'], ['event_type', 'TEXT'],
  ['picked_position', 'INTEGER'], ['text', 'TEXT'], ['scrub_rules', 'TEXT'], ['score', 'DOUBLE PRECISION'], ['batch', 'BIGINT'],
];

async function updateDecided(tx: SqlTx, rows: PredRow[]): Promise<void> {
  const per = 2000;
  const one = `(${DECIDED_COLS.map(([, t]) => `CAST(? AS ${t})`).join(', ')})`;
  const names = DECIDED_COLS.map(([c]) => c);
  const set = names.slice(1).map((c) => `${c} = v.${c}`).join(', ');
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const params: Param[] = [];
    for (const p of chunk) for (const [c] of DECIDED_COLS) params.push(p[c] as Param);
    await tx.run(
      `WITH v (${names.join(', ')}) AS (VALUES ${chunk.map(() => one).join(', ')})
       UPDATE fb_predictions SET ${set} FROM v WHERE fb_predictions.prediction_id = v.prediction_id`,
      params,
    );
  }
}
