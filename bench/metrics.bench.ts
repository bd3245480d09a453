// Benchmark `metrics`: recomputing the metrics state (cells, score bins, picked positions, per
// model version × arm × day × slice, as the report shows them) from 10M feedback examples (3 versions, 2 arms, 20 slice
// values, a week of hours) and finalizing it, beside one bare DuckDB query computing the same counts
// and sums (no bins, no positions) over the same Parquet part. Also the incremental accumulator's
// rate into SQLite, as a note.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeFile } from '../src/core/dataset.ts';
import type { Manifest } from '../src/core/manifest.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { threadBudget } from '../src/engine/budget.ts';
import { SqliteDb } from '../src/store/sqlite.ts';
import { accumulateMetrics, ensureMetricsSchema } from '../src/feedback/metrics/accumulate.ts';
import { stateFromDataset } from '../src/feedback/metrics/recompute.ts';
import { summarize } from '../src/feedback/metrics/summary.ts';
import type { FeedbackExample } from '../src/feedback/records.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

const T0 = Date.UTC(2026, 0, 5);

/** Feedback rows as the join writes them: FEEDBACK_COLUMNS + a `category` field with 20 values. */
function feedbackSql(rows: number): string {
  return `SELECT 'p' || i AS prediction_id, 'ctr' AS model, (1 + i % 3)::INTEGER AS model_version, CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END AS arm,
    make_timestamp((${T0} + (hash(i) % ${7 * 86_400_000}))::BIGINT * 1000) AS predicted_at,
    make_timestamp((${T0} + (hash(i) % ${7 * 86_400_000}) + 5000)::BIGINT * 1000) AS decided_at,
    (hash(i * 7) % 1000 < (hash(i * 3) % 1000) * 0.6)::INTEGER AS label, (hash(i * 3) % 1000) / 1000.0 AS score,
    NULL::VARCHAR AS event_id, NULL::VARCHAR AS event_type,
    CASE WHEN i % 4 = 0 THEN (hash(i * 5) % 10)::INTEGER END AS picked_position, CASE WHEN i % 4 < 2 THEN 10 END::INTEGER AS shown_count,
    NULL::VARCHAR AS text, NULL::VARCHAR AS scrub_rules, 'cat' || (hash(i * 11) % 20) AS category
    FROM range(${rows}) t(i)`;
}

async function feedbackPart(duck: DuckSession, dir: string, rows: number): Promise<string> {
  const rel = `feedback-${rows}.parquet`;
  const path = join(dir, rel);
  if (!existsSync(path)) {
    await duck.run(`COPY (${feedbackSql(rows)}) TO ${lit(path + '.tmp')} (FORMAT parquet)`);
    renameSync(path + '.tmp', path);
  }
  return rel;
}

export const bench: Bench = {
  name: 'metrics: recompute + finalize from feedback vs one bare DuckDB GROUP BY of the same counts and sums',
  async run(ctx) {
    const rows = ctx.quick ? 1_000_000 : 10_000_000;
    const dir = join(ctx.dir, 'data');
    mkdirSync(dir, { recursive: true });
    const duck = await DuckSession.open({ threads: threadBudget().duckdb });
    const out: Measure[] = [];
    try {
      const rel = await feedbackPart(duck, dir, rows);
      const part = await describeFile(duck, dir, rel);
      const schema = await duck.describe(`(SELECT * FROM read_parquet(${lit(join(dir, rel))}))`);
      const m = { format: 1, dataset: 'feedback', version: 1, created_at: '', schema: schema.map((c) => ({ ...c })), parts: [part], rows: part.rows, parents: [], operation: 'bench', config_hash: '', licences: [] } as unknown as Manifest;
      ctx.log(`${part.rows} feedback rows, ${(part.bytes / 2 ** 20).toFixed(0)} MiB Parquet, DuckDB threads ${threadBudget().duckdb}`);
      const p = 'greatest(1e-15, least(1 - 1e-15, score))';
      const anchorSql = `SELECT model, model_version, arm, epoch_ms(predicted_at) // 86400000 AS day, category, count(*), sum(label), sum(score), sum(score * score), sum(ll), sum(ll * ll), count(shown_count)
        FROM (SELECT *, CASE WHEN label = 1 THEN -ln(${p}) ELSE -ln(1 - ${p}) END AS ll FROM read_parquet(${lit(join(dir, rel))}))
        GROUP BY GROUPING SETS ((model, model_version, arm, day), (model, model_version, arm, day, category))`;
      // The same aggregates our state holds: the cells' sums, and per score bin (AUC, ECE, the
      // reliability curve) and per picked position — what the first anchor leaves out.
      const fullSql = `SELECT model, model_version, arm, day, category, bin, picked_position, count(*), sum(label), sum(score), sum(score * score), sum(ll), sum(ll * ll)
        FROM (SELECT *, epoch_ms(predicted_at) // 86400000 AS day, least(99, floor(least(greatest(score, 0), 1) * 100))::INTEGER AS bin,
          CASE WHEN label = 1 THEN -ln(${p}) ELSE -ln(1 - ${p}) END AS ll FROM read_parquet(${lit(join(dir, rel))}))
        GROUP BY GROUPING SETS ((model, model_version, arm, day, bin), (model, model_version, arm, day, category, bin), (model, model_version, arm, day, picked_position))`;
      let groups = 0;
      let cells = 0;
      const ours = async () => {
        const state = await stateFromDataset(duck, dir, m, ['category'], {}, 86_400_000);
        summarize(state, { source: 'bench' });
      };
      const t2 = await timePair(ctx.repeats, async () => void (await duck.all(fullSql)), ours);
      ctx.log(`same aggregates: runs ours ${t2.oursRuns.map((x) => x.toFixed(2)).join(', ')} s, anchor ${t2.anchorRuns.map((x) => x.toFixed(2)).join(', ')} s`);
      const t = await timePair(
        ctx.repeats,
        async () => void (await duck.all(anchorSql)),
        async () => {
          const state = await stateFromDataset(duck, dir, m, ['category'], {}, 86_400_000);
          const s = summarize(state, { source: 'bench' });
          cells = state.cells.length;
          groups = s.groups.length;
        },
      );
      ctx.log(`state: ${cells} cells (3 versions × 2 arms × 7 days × (1 + 20 slices)), ${groups} version×arm groups; runs ours ${t.oursRuns.map((x) => x.toFixed(2)).join(', ')} s, anchor ${t.anchorRuns.map((x) => x.toFixed(2)).join(', ')} s`);
      out.push({ name: `metrics over ${rows / 1e6}M feedback examples`, unit: 'rows/s', ours: rows / t.ours, anchor: rows / t.anchor, anchorName: 'bare DuckDB GROUP BY (cell counts and sums only)', goal: 0.5, notes: { cells } });
      out.push({ name: `metrics over ${rows / 1e6}M feedback examples, same aggregates`, unit: 'rows/s', ours: rows / t2.ours, anchor: rows / t2.anchor, anchorName: 'bare DuckDB GROUP BY (cells + score bins + picked positions)', goal: 0.5 });

      // incremental: examples folded into SQLite state in emit-sized transactions
      const n = ctx.quick ? 20_000 : 200_000;
      const ex: FeedbackExample[] = Array.from({ length: n }, (_, i) => ({
        prediction_id: `p${i}`, model: 'ctr', model_version: 1 + (i % 3), arm: i % 2 ? 'B' : 'A', predicted_at: T0 + ((i * 7919) % (7 * 86_400_000)), decided_at: 0,
        label: (i * 31) % 7 < 2 ? 1 : 0, score: ((i * 131) % 1000) / 1000, event_id: null, event_type: null, picked_position: i % 4 ? null : i % 10, shown_count: i % 4 ? null : 10, text: null, scrub_rules: null, fields: { category: `cat${i % 20}` },
      }));
      const dbPath = join(ctx.dir, 'feedback.db');
      rmSync(dbPath, { force: true });
      const db = new SqliteDb(dbPath);
      await ensureMetricsSchema(db, { slices: ['category'] });
      const start = performance.now();
      for (let i = 0; i < n; i += 1000) await db.transaction((tx) => accumulateMetrics(tx, ex.slice(i, i + 1000)));
      const secs = (performance.now() - start) / 1000;
      await db.close();
      ctx.log(`incremental: ${n} examples in transactions of 1000 into SQLite: ${(n / secs).toFixed(0)} examples/s`);
      out[0]!.notes = { ...out[0]!.notes, incremental_examples_per_s: Math.round(n / secs) };
    } finally {
      duck.close();
    }
    return out;
  },
};
