// The review item contract between the stages that route records to people (curate's rules and
// conflicts, mining) and the review queue. Stages write items; the queue serves them.

/** Why a record needs a person. */
export interface ReviewReason {
  /** the rule id, when a rule sent the record here */
  rule?: string;
  /** conflict field, when sources disagree */
  field?: string;
  message: string;
}

/** One source's version of a record in a conflict (the reviewer picks among them). */
export interface ReviewVariant {
  source: string;
  _id: string;
  record: Record<string, unknown>;
}

export interface ReviewItemInput {
  /** dataset the decision folds back into (`sluice review apply <dataset>`) */
  dataset: string;
  /** the record's `_id` in that dataset */
  record_id: string;
  kind: 'rule' | 'conflict' | 'label';
  /** the record as the pipeline mapped it (JSON-safe values) */
  record: Record<string, unknown>;
  /** fields to highlight (the failing rule's fields, the fields sources disagree on) */
  fields: string[];
  reasons: ReviewReason[];
  variants?: ReviewVariant[];
  /** higher is served first (rule severity, or a model score) */
  priority: number;
  /** the source of the record (for filters) */
  source?: string;
  /** the version whose run routed this record, e.g. `ads@3` */
  routed_in?: string;
  /** for label items: the choices offered */
  labels?: string[];
  /** for label items: the record field a chosen label is written to (default `label`) */
  label_field?: string;
  /** checks an edit must pass: the item's rules, so the UI refuses an edit with the rule's message */
  rules?: ReviewRule[];
  /** reviewers needed for this item (default: the store's overlap, 1) */
  overlap?: number;
}

/** A rule an edited record must pass: a DuckDB boolean expression over the record's fields. */
export interface ReviewRule {
  id: string;
  /** e.g. `price >= 0`; a NULL result counts as passing, as in SQL CHECK constraints */
  check: string;
  message: string;
}
