// The review queue's tables (SQLite and PostgreSQL differ only in how ids are generated).
//
// Why counters: the queue page shows counts by status for any filter; `review_counts` keeps them per
// (dataset, source, rule, status), updated in the transaction that changes an item, so progress costs
// a few rows, not a scan of a million items. Held items are counted through the lease index.
// Why the partial index: a claim takes the first free items by priority. Leased items leave the
// `review_items_free` index, so a claim never walks past the items others hold.
export function reviewDdl(dialect: 'sqlite' | 'postgres'): string {
  const id = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY';
  return `
CREATE TABLE IF NOT EXISTS review_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_reviewers (
  id ${id}, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_items (
  id ${id}, dataset TEXT NOT NULL, record_id TEXT NOT NULL, kind TEXT NOT NULL, routed_in TEXT NOT NULL,
  record TEXT NOT NULL, fields TEXT NOT NULL, reasons TEXT NOT NULL, variants TEXT, labels TEXT, label_field TEXT, rules TEXT,
  source TEXT, rule TEXT, priority DOUBLE PRECISION NOT NULL, overlap INTEGER NOT NULL, decided INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL, lease_reviewer BIGINT, lease_until BIGINT, final_decision BIGINT, applied_in TEXT,
  created_at TEXT NOT NULL, UNIQUE (dataset, record_id, kind, routed_in));
CREATE INDEX IF NOT EXISTS review_items_free ON review_items (status, priority DESC, id) WHERE lease_reviewer IS NULL;
CREATE INDEX IF NOT EXISTS review_items_lease ON review_items (lease_until) WHERE lease_reviewer IS NOT NULL;
CREATE INDEX IF NOT EXISTS review_items_list ON review_items (status, priority DESC, id);
CREATE TABLE IF NOT EXISTS review_decisions (
  id ${id}, item_id BIGINT NOT NULL, reviewer_id BIGINT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
  label TEXT, variant TEXT, record TEXT, boxes TEXT, comment TEXT, outcome TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS review_decisions_item ON review_decisions (item_id, reviewer_id);
CREATE INDEX IF NOT EXISTS review_decisions_reviewer ON review_decisions (reviewer_id);
CREATE TABLE IF NOT EXISTS review_audit (
  id ${id}, at TEXT NOT NULL, reviewer_id BIGINT, action TEXT NOT NULL, item_id BIGINT, detail TEXT);
CREATE TABLE IF NOT EXISTS review_counts (
  dataset TEXT NOT NULL, source TEXT NOT NULL, rule TEXT NOT NULL, status TEXT NOT NULL, n BIGINT NOT NULL,
  PRIMARY KEY (dataset, source, rule, status));
CREATE TABLE IF NOT EXISTS review_facets (kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, value));
`;
}
