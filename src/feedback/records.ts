// The records that flow through the loop's logs: a prediction (written by `sluice serve`), an
// outcome event (what the user did, read by `sluice feedback`), and the labeled example the join emits.
// Shared by serve/, feedback/ and the metrics, so they agree on one shape.

/** One prediction, logged by the server (one record per scored instance). */
export interface PredictionRecord {
  prediction_id: string;
  /** epoch milliseconds, the server's clock when the answer was made */
  time: number;
  model: string;
  version: number;
  /** 'main' without a split; the arm's name under A/B; shadow predictions have shadow: true */
  arm: string;
  shadow?: boolean;
  /** the request key that chose the arm (user id, …), when there is one */
  key?: string;
  /** the raw instance fields as received (for a ranked request: the context's fields) */
  fields: Record<string, unknown>;
  /** model outputs for this instance, e.g. { score: 0.12 } */
  outputs: Record<string, number | number[]>;
  /** ranked answers: the list shown, in order (position 0 first) */
  shown?: { candidate_id: string; position: number; score: number }[];
}

export const OUTCOME_TYPES = ['impression', 'click', 'accept', 'reject', 'typed_own', 'conversion'] as const;

/** One outcome event. `type` may also be a user-defined string. */
export interface OutcomeEvent {
  event_id: string;
  prediction_id: string;
  type: string;
  /** event time, epoch milliseconds (intake also accepts ISO 8601 and converts) */
  time: number;
  position?: number;
  value?: number;
  /** free text the user typed (scrubbed before it is stored) */
  text?: string;
}

/**
 * The fixed columns of a `feedback` dataset version. Each prediction's logged `fields` follow as
 * columns of their own names; a field whose name is one of these is stored as `field_<name>`.
 */
export const FEEDBACK_COLUMNS = {
  prediction_id: 'VARCHAR',
  model: 'VARCHAR',
  model_version: 'INTEGER',
  arm: 'VARCHAR',
  predicted_at: 'TIMESTAMP',
  decided_at: 'TIMESTAMP',
  /** 1 positive, 0 negative */
  label: 'INTEGER',
  /** the model's score for this prediction (outputs.score, or the picked candidate's score) */
  score: 'DOUBLE',
  /** the event that decided the label (NULL for a negative by timeout) */
  event_id: 'VARCHAR',
  event_type: 'VARCHAR',
  /** ranked answers: the position picked (NULL when none), and how many were shown */
  picked_position: 'INTEGER',
  shown_count: 'INTEGER',
  /** scrubbed free text, and the scrub rules applied (comma-separated names) */
  text: 'VARCHAR',
  scrub_rules: 'VARCHAR',
} as const;
export type FeedbackColumn = keyof typeof FEEDBACK_COLUMNS;

/** One labeled example as the join emits it (times in epoch ms); written as a row of `feedback`. */
export interface FeedbackExample {
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
  /** the prediction's logged fields */
  fields: Record<string, unknown>;
}
