// The batch form of the join, in DuckDB: the same event-time rules over whole tables (window
// functions give each record the watermark it arrived under). Tests compare the incremental join
// with it; the benchmark times it as the anchor. Inputs: `preds(ord, prediction_id, tp, …)` and
// `events(ord, event_id, prediction_id, type, te, position, text)` holding valid records in log order.
import type { DuckSession } from '../engine/duckdb.ts';
import { lit } from '../engine/duckdb.ts';
import { SHADOW } from './decide.ts';
import type { JoinSpec } from './spec.ts';

/**
 * Creates `oracle_examples` (one row per decided prediction) and `oracle_events` (event_id,
 * disposition) from tables `preds` and `events`, and `oracle_orphans` (shadow predictions with no
 * main in time: quarantined). A shadow (`<id>/shadow`) takes its main's example when the main
 * arrived before it or before the predictions' watermark passed the shadow's time + the unmatched
 * timeout (decide.ts, shadowMatches); it is never a timeout negative of its own. (Events naming a
 * shadow id directly are outside this model: serve never shows a shadow.)
 * @example await batchJoin(duck, spec); await duck.all('SELECT * FROM oracle_examples')
 */
export async function batchJoin(duck: DuckSession, spec: JoinSpec, tables = { preds: 'preds', events: 'events' }): Promise<void> {
  const W = spec.window;
  const L = spec.lateness;
  const T = spec.unmatched_timeout;
  const rules = spec.rules.map((r) => `(${lit(r.type)}, ${r.label}, ${r.within ?? W}, ${r.position})`).join(', ');
  await duck.run(`
CREATE OR REPLACE TEMP TABLE oracle_rules (type VARCHAR, rlabel INTEGER, within BIGINT, rpos BOOLEAN);
INSERT INTO oracle_rules VALUES ${rules};
CREATE OR REPLACE TEMP TABLE oracle_p AS
  SELECT * EXCLUDE (rn), tp + ${W + L} AS close_at FROM (
    SELECT *, max(tp) OVER (ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${spec.prediction_delay} AS pw_before,
      row_number() OVER (PARTITION BY prediction_id ORDER BY ord) AS rn FROM ${tables.preds}) WHERE rn = 1;
CREATE OR REPLACE TEMP TABLE oracle_e AS
  SELECT * EXCLUDE (rn) FROM (
    SELECT *, max(te) OVER (ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${spec.watermark_delay} AS ew_before,
      row_number() OVER (PARTITION BY event_id ORDER BY ord) AS rn FROM ${tables.events}) WHERE rn = 1;
CREATE OR REPLACE TEMP TABLE oracle_m AS
  SELECT e.*, p.tp, p.close_at, p.prediction_id IS NOT NULL AS known, r.rlabel, r.within, r.rpos,
    p.prediction_id IS NOT NULL AND (p.pw_before IS NULL OR p.pw_before < e.te + ${T}) AS matched,
    r.type IS NOT NULL AND e.te >= p.tp AND e.te <= p.tp + r.within AS in_window,
    e.ew_before IS NOT NULL AND e.ew_before >= p.close_at AS is_late
  FROM oracle_e e LEFT JOIN oracle_p p ON p.prediction_id = e.prediction_id LEFT JOIN oracle_rules r ON r.type = e.type;
CREATE OR REPLACE TEMP TABLE oracle_dec AS
  SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY prediction_id ORDER BY ord) AS rn
    FROM oracle_m WHERE matched AND in_window AND NOT is_late) WHERE rn = 1;
CREATE OR REPLACE TEMP TABLE oracle_main_examples AS
  SELECT p.prediction_id, COALESCE(d.rlabel, 0) AS label, COALESCE(d.te, p.close_at) AS decided_at, d.event_id, d.type AS event_type,
    CASE WHEN d.rpos THEN d.position END AS picked_position, d.text
  FROM oracle_p p LEFT JOIN oracle_dec d ON d.prediction_id = p.prediction_id
  WHERE (d.event_id IS NOT NULL OR p.close_at <= (SELECT max(te) - ${spec.watermark_delay} FROM ${tables.events})) AND NOT ends_with(p.prediction_id, ${lit(SHADOW)});
CREATE OR REPLACE TEMP TABLE oracle_shadows AS
  SELECT s.prediction_id, s.ord, m.prediction_id IS NOT NULL AND (m.ord < s.ord OR m.pw_before IS NULL OR m.pw_before < s.tp + ${T}) AS paired,
    s.tp + ${T} <= (SELECT max(tp) - ${spec.prediction_delay} FROM ${tables.preds}) AS due
  FROM (SELECT * FROM oracle_p WHERE ends_with(prediction_id, ${lit(SHADOW)})) s
  LEFT JOIN oracle_p m ON m.prediction_id = left(s.prediction_id, length(s.prediction_id) - ${SHADOW.length});
CREATE OR REPLACE TEMP TABLE oracle_orphans AS SELECT prediction_id, ord FROM oracle_shadows WHERE NOT paired AND due;
CREATE OR REPLACE TEMP TABLE oracle_examples AS
  SELECT * FROM oracle_main_examples
  UNION ALL
  SELECT s.prediction_id, x.label, x.decided_at, x.event_id, x.event_type, x.picked_position, x.text
  FROM oracle_shadows s JOIN oracle_main_examples x ON x.prediction_id = left(s.prediction_id, length(s.prediction_id) - ${SHADOW.length}) WHERE s.paired;
CREATE OR REPLACE TEMP TABLE oracle_events AS
  SELECT m.event_id, CASE
    WHEN NOT m.known AND m.te + ${T} > (SELECT max(tp) - ${spec.prediction_delay} FROM ${tables.preds}) THEN 'pending'
    WHEN NOT m.matched THEN 'unmatched'
    WHEN d.event_id IS NOT NULL THEN 'decided'
    WHEN m.rlabel IS NULL THEN 'no_rule'
    WHEN NOT m.in_window THEN 'outside_window'
    WHEN m.is_late THEN 'late'
    ELSE 'after_decision' END AS disposition
  FROM oracle_m m LEFT JOIN oracle_dec d ON d.event_id = m.event_id;
`);
}
