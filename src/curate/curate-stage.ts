// The curate stage: the ingest's map (mapping and SQL rules in DuckDB, vectorized), then the
// TypeScript predicate rules, which read the rows that survived in DuckDB chunks, as columns; the
// rows a predicate breaks move to the quarantine or the review file (or are counted, for warn)
// exactly as a SQL rule would move them. Reduce is the ingest's; the commit takes a unique rule's
// rows out of their parts (unique.ts), adds the run's outcomes per source and per rule, and
// refuses to commit if they do not reconcile.
import { mkdirSync } from 'node:fs';
import { InternalError } from '../core/errors.ts';
import { describeFile } from '../core/dataset.ts';
import type { FileEntry, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit } from '../engine/duckdb.ts';
import type { Json, MapTask, Stage, TaskContext, TaskOutput } from '../engine/plan.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import { ingestStage, type IngestConfig, type IngestInput, type IngestStats } from './ingest-stage.ts';
import { describeRule, type PredicateFn, type Rule } from './rules.ts';
import { groupingOf, shuffleAccepted } from './dedupe.ts';
import { isPredicateRule, loadPredicate, runPredicate } from './predicate.ts';
import { reconcile, summarize } from './summary.ts';
import { commitUnique } from './unique.ts';

interface Broken {
  quarantine: string[];
  review: string[];
  rules: string[];
  severity: number;
}

export const curateStage: Stage = {
  ...ingestStage,
  name: 'curate',
  async map(ctx: TaskContext, task: MapTask): Promise<TaskOutput> {
    const out = await ingestStage.map(ctx, task);
    return applyPredicates(ctx, task.input as unknown as IngestInput, out);
  },
  async commit(plan, outputs, head, ctx) {
    let draft = await ingestStage.commit(plan, outputs, head, ctx);
    const unique = (plan.config as unknown as IngestConfig).pipeline.rules.find((r) => r.unique);
    if (unique) ({ draft, outputs } = await commitUnique(ctx, plan, outputs, draft, head, unique));
    const summary = await summarize(ctx.duck, ctx.dataDir, plan, outputs, draft.parts);
    reconcile(summary.sources, plan.dataset);
    return { ...draft, extra: { ...draft.extra, outcomes: summary.sources as unknown as Json, rule_counts: summary.rules as unknown as Json } };
  },
};

async function applyPredicates(ctx: TaskContext, input: IngestInput, out: TaskOutput): Promise<TaskOutput> {
  const { pipeline } = ctx.plan.config as unknown as IngestConfig;
  const source = pipeline.sources[input.source]!;
  const rules = pipeline.rules.filter((r) => isPredicateRule(r) && (!r.sources || r.sources.includes(source.name)));
  const stats = out.stats as unknown as IngestStats;
  const part = (out.parts as Part[])[0]!;
  if (!rules.length) return out;
  const fns: [Rule, PredicateFn][] = [];
  for (const r of rules) fns.push([r, await loadPredicate(r, ctx.env.dataDir)]);
  const abs = (rel: string) => safeJoin(ctx.env.dataDir, rel);
  const fields = pipeline.schema.map((f) => f.name);
  const scan = `read_parquet(${lit(abs(part.path))}, file_row_number = true)`;

  // The rows the mapping and the SQL quarantine rules let through (accepted or bound for review).
  const broken = new Map<number, Broken>();
  const fired: Record<string, number> = {};
  let batchNo = 0;
  for await (const b of ctx.duck.batches(`SELECT file_row_number AS __pos, __line, ${fields.map(ident).join(', ')} FROM ${scan} WHERE __reason IS NULL`)) {
    batchNo++;
    const columns = Object.fromEntries(fields.map((f, i) => [f, b.columns[i + 2]!]));
    const pos = b.columns[0] as number[];
    const lines = b.columns[1] as number[];
    const info = { source: source.name, file: input.file, batch: batchNo, rows: b.rowCount };
    // the part's rows need not be in file order: name the batch by its first and last line
    let lo = Infinity;
    let hi = -Infinity;
    for (const l of lines) (lo = Math.min(lo, l)), (hi = Math.max(hi, l));
    for (const [r, fn] of fns) {
      const breaks = await runPredicate(r, fn, columns, info, [lo, hi]);
      for (let i = 0; i < b.rowCount; i++) {
        if (!breaks[i]) continue;
        fired[r.id] = (fired[r.id] ?? 0) + 1;
        let x = broken.get(pos[i]!);
        if (!x) broken.set(pos[i]!, (x = { quarantine: [], review: [], rules: [], severity: 0 }));
        x.rules.push(r.id);
        const msg = `rule ${r.id}: ${describeRule(r)}`;
        if (r.action === 'quarantine') x.quarantine.push(msg);
        else if (r.action === 'review') {
          x.review.push(msg);
          x.severity = Math.max(x.severity, r.severity);
        }
      }
    }
  }
  ctx.progress(1, 1);
  const newStats: IngestStats = { ...stats, rules: { ...stats.rules }, reasons: { ...stats.reasons } };
  for (const [id, n] of Object.entries(fired)) newStats.rules[id] = (newStats.rules[id] ?? 0) + n;
  // quarantine reasons are counted by their first part, as the ingest counts its own
  for (const x of broken.values()) if (x.quarantine.length) newStats.reasons[x.quarantine[0]!.split(':')[0]!] = (newStats.reasons[x.quarantine[0]!.split(':')[0]!] ?? 0) + 1;
  const moving = [...broken.entries()].filter(([, x]) => x.quarantine.length || x.review.length);
  if (!moving.length) return { ...out, stats: newStats as unknown as Json };

  // The moved rows, as a table to join with the part by position.
  const t = `pred_${ctx.taskId}`;
  await ctx.duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(t)} (__ppos BIGINT, __pq VARCHAR, __pr VARCHAR, __prules VARCHAR, __psev INTEGER)`);
  const a = await ctx.duck.conn.createAppender(t);
  for (const [p, x] of broken) {
    a.appendBigInt(BigInt(p));
    if (x.quarantine.length) a.appendVarchar(x.quarantine.join('; '));
    else a.appendNull();
    if (x.review.length) a.appendVarchar(x.review.join('; '));
    else a.appendNull();
    a.appendVarchar(x.rules.join('\u001f'));
    a.appendInteger(x.severity);
    a.endRow();
  }
  a.closeSync();
  const joined = `${scan} LEFT JOIN ${ident(t)} ON __ppos = file_row_number`;
  const prefix = lit(part.lineage!.prefix + ':');

  // Deletion file: the rows already removed, and every row a predicate moved out.
  const dRel = `${ctx.outDir}/deletes-p.parquet`;
  const oldDeletes = part.deletes ? `SELECT pos FROM read_parquet(${lit(abs(part.deletes.path))}) UNION ` : '';
  await ctx.duck.run(`COPY (SELECT pos FROM (${oldDeletes}SELECT __ppos AS pos FROM ${ident(t)} WHERE __pq IS NOT NULL OR __pr IS NOT NULL) ORDER BY pos) TO ${lit(abs(dRel))} (${parquetWriterOptions()})`);
  const deletes = await describeFile(ctx.duck, ctx.env.dataDir, dRel);

  // Quarantine: what the ingest wrote, plus the rows a quarantine predicate broke (also those a
  // SQL review rule had sent to review: quarantine wins, as among SQL rules).
  const qRel = `${ctx.outDir}/quarantine-p.parquet`;
  const record = `to_json({${fields.map((f) => `${lit(f)}: ${ident(f)}`).join(', ')}})::VARCHAR`;
  await ctx.duck.run(
    `COPY (SELECT * FROM (SELECT * FROM read_parquet(${lit(abs(stats.quarantine!.path))}) UNION ALL ` +
      `SELECT ${prefix} || __rec, ${lit(source.name)}, ${lit(input.file)}, __rec, __line, COALESCE(__raw, ${record}), __pq, 'rules' FROM ${joined} WHERE __pq IS NOT NULL) ORDER BY record) ` +
      `TO ${lit(abs(qRel))} (${parquetWriterOptions()})`,
  );
  const quarantine = await describeFile(ctx.duck, ctx.env.dataDir, qRel);

  // Review: the SQL rules' review rows (less those now quarantined), with the predicates' reasons.
  const rRel = `${ctx.outDir}/review-p.parquet`;
  await ctx.duck.run(
    `COPY (SELECT ${prefix} || __rec AS _id, {'source': ${lit(source.name)}, 'file': ${lit(input.file)}, 'record': __rec, 'line': __line} AS _source, ${fields.map(ident).join(', ')}, ` +
      `concat_ws('; ', __review, __pr) AS reason, list_concat(COALESCE(__rules, []::VARCHAR[]), COALESCE(string_split(__prules, chr(31)), [])) AS rules, ` +
      `CAST(greatest(COALESCE(__severity, 0), CASE WHEN __pr IS NOT NULL THEN __psev ELSE 0 END) AS INTEGER) AS severity ` +
      `FROM ${joined} WHERE __reason IS NULL AND __pq IS NULL AND (__review IS NOT NULL OR __pr IS NOT NULL) ORDER BY __rec) TO ${lit(abs(rRel))} (${parquetWriterOptions()})`,
  );
  const review = await describeFile(ctx.duck, ctx.env.dataDir, rRel);
  await ctx.duck.run(`DROP TABLE ${ident(t)}`);

  const newPart: Part = { ...part, deletes };
  const accepted = part.rows - deletes.rows;
  if (accepted + quarantine.rows + review.rows !== stats.records) {
    throw new InternalError(
      `source ${source.name}, ${input.file}: ${stats.records} records read, but after predicates ${accepted} accepted + ${quarantine.rows} quarantined + ${review.rows} for review`,
      { hint: 'this is a bug in sluice; please report it with the file and the rules' },
    );
  }
  Object.assign(newStats, { accepted, quarantined: quarantine.rows, review: review.rows, quarantine, reviewFile: review });
  const grouping = groupingOf(pipeline);
  // The ingest already shuffled its accepted rows; shuffle again without the moved ones.
  if (grouping) mkdirSync(abs(`${ctx.outDir}/p`), { recursive: true });
  const shuffle = grouping ? await shuffleAccepted(ctx.duck, ctx.env.dataDir, `${ctx.outDir}/p`, pipeline, grouping, newPart, source.priority, input.source) : undefined;
  return { parts: [newPart as unknown as FileEntry], stats: newStats as unknown as Json, ...(shuffle ? { shuffle } : {}) };
}
