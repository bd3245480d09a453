// After a curate commit: the records that rules or conflicts sent to a person become items in the
// review queue. Idempotent (the store ignores an item it already has), so a rerun after a crash
// between the commit and this step adds what is missing and nothing twice.
import type { FileEntry, Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { safeJoin } from '../core/names.ts';
import { lit } from '../engine/duckdb.ts';
import type { ReviewItemInput, ReviewReason, ReviewRule, ReviewVariant } from '../review/types.ts';
import type { Pipeline } from './pipeline.ts';
import { describeRule, ruleFields, violation } from './rules.ts';

const SYSTEM = new Set(['_id', '_source', 'reason', 'rules', 'severity', 'variants', 'fields', 'records']);

/** The checks an edited record must pass: every rule that can be evaluated on one record. */
export function reviewRules(p: Pipeline): ReviewRule[] {
  return p.rules.flatMap((r, i) => (r.ref || r.action === 'warn' ? [] : [{ id: r.id, check: `NOT (${violation(r, i)})`, message: `rule ${r.id}: ${describeRule(r)}` }]));
}

function reasonsOf(text: string): ReviewReason[] {
  return text.split('; ').map((part) => {
    const m = /^rule ([^:]+): (.*)$/.exec(part);
    return m ? { rule: m[1]!, message: m[2]! } : { message: part };
  });
}

export async function routeReviewItems(project: Project, p: Pipeline, m: Manifest): Promise<number> {
  const files = ((m.extra?.review_files as FileEntry[] | undefined) ?? []).filter((f) => f.rows > 0);
  if (!files.length) return 0;
  const duck = await project.duck();
  const rows = await duck.all<Record<string, unknown>>(`SELECT * FROM read_parquet([${files.map((f) => lit(safeJoin(project.dataDir, f.path))).join(', ')}], union_by_name = true)`);
  const rules = new Map(p.rules.map((r) => [r.id, r]));
  const checks = reviewRules(p);
  const items: ReviewItemInput[] = rows.map((row) => {
    const record = Object.fromEntries(Object.entries(row).filter(([k]) => !SYSTEM.has(k)));
    const source = (row._source as { source?: string } | null)?.source;
    const variants = typeof row.variants === 'string' ? (JSON.parse(row.variants) as ReviewVariant[]) : undefined;
    const fired = (row.rules as string[] | null) ?? [];
    const fields = variants ? ((row.fields as string[] | null) ?? []) : fired.flatMap((id) => (rules.get(id) ? ruleFields(rules.get(id)!) : []));
    return {
      dataset: m.dataset,
      record_id: String(row._id),
      kind: variants ? 'conflict' : 'rule',
      record,
      fields: [...new Set(fields)],
      reasons: variants ? fields.map((f) => ({ field: f, message: `sources disagree on ${f}` })) : reasonsOf(String(row.reason ?? '')),
      ...(variants ? { variants } : {}),
      priority: Number(row.severity ?? 1),
      ...(source ? { source } : {}),
      routed_in: `${m.dataset}@${m.version}`,
      rules: checks,
    };
  });
  const { addReviewItems } = await import('../review/store.ts');
  return addReviewItems(project, items);
}
