// The ingest stage as a plan: one map task per input file (or query) maps records to the target
// schema; good rows become a part, damaged ones a quarantine part; the commit adds both in one
// transaction (the quarantine as the companion dataset `<target>-quarantine`).
import { readdirSync, rmSync } from 'node:fs';
import { InternalError, InputError } from '../core/errors.ts';
import { describeFile, SYSTEM_COLUMNS } from '../core/dataset.ts';
import type { FileEntry, Licence, Manifest, Part } from '../core/manifest.ts';
import { configHash, sha256File } from '../core/hash.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit, type DuckSession } from '../engine/duckdb.ts';
import type { CommitDraft, Json, MapTask, PlanOutputs, PlanSpec, Stage, TaskContext, TaskOutput } from '../engine/plan.ts';
import { parquetWriterOptions } from '../io/parquet.ts';
import type { Format } from '../io/formats.ts';
import { compileMapping, targetColumns } from './mapping.ts';
import { compileRules, refTable } from './rules.ts';
import { applyJoins, joinedFields, loadJoinTables } from './joins.ts';
import { DUPLICATES_SCHEMA, groupingOf, reduceDuplicates, shuffleAccepted } from './dedupe.ts';
import { scanSql } from '../core/dataset.ts';
import { parseRef } from '../core/ref.ts';
import { fieldMap as fieldMapOf, type Pipeline } from './pipeline.ts';
import { exportQuery, prepareInput } from './sources.ts';
import type { BadRecord } from './scan.ts';
import { phaseClock } from '../engine/profile.ts';

export interface IngestInput {
  source: number;
  /** absolute path of a file, or undefined for a query source */
  path?: string;
  file: string;
  format: Format;
  sha256: string;
  [k: string]: Json | undefined;
}

export interface IngestStats {
  source: string;
  file: string;
  sha256: string;
  records: number;
  accepted: number;
  quarantined: number;
  /** records routed to a person by a review rule */
  review: number;
  /** how many records each rule fired on (any action) */
  rules: Record<string, number>;
  reviewFile?: FileEntry;
  reasons: Record<string, number>;
  notes: string[];
  quarantine?: FileEntry;
}

export interface IngestConfig {
  pipeline: Pipeline;
  /** sha256s of files already in the head version (incremental runs skip them) */
  reuse: boolean;
}

export const QUARANTINE_SCHEMA = [
  { name: '_id', type: 'VARCHAR', nullable: false },
  { name: 'source', type: 'VARCHAR', nullable: false },
  { name: 'file', type: 'VARCHAR', nullable: false },
  { name: 'record', type: 'BIGINT', nullable: true },
  { name: 'line', type: 'BIGINT', nullable: true },
  { name: 'raw', type: 'VARCHAR', nullable: true },
  { name: 'reason', type: 'VARCHAR', nullable: false },
  { name: 'stage', type: 'VARCHAR', nullable: false },
];

async function loadBad(duck: DuckSession, table: string, bad: BadRecord[]): Promise<void> {
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} (record BIGINT, line BIGINT, raw VARCHAR, reason VARCHAR)`);
  if (!bad.length) return;
  const a = await duck.conn.createAppender(table);
  for (const b of bad) {
    a.appendBigInt(BigInt(b.record));
    a.appendBigInt(BigInt(b.line));
    a.appendVarchar(b.raw);
    a.appendVarchar(b.reason);
    a.endRow();
  }
  a.closeSync();
}

/** Loads the allowed values of each `ref` rule into a temp table (once per task). */
async function loadRefTables(ctx: TaskContext, pipeline: Pipeline): Promise<void> {
  for (const [i, r] of pipeline.rules.entries()) {
    if (!r.ref) continue;
    const m = await ctx.catalog.resolve(parseRef(r.ref.dataset));
    await ctx.duck.run(
      `CREATE OR REPLACE TEMP TABLE ${ident(refTable(i))} AS SELECT DISTINCT CAST(${ident(r.ref.column ?? r.ref.field)} AS VARCHAR) AS v FROM (${scanSql(ctx.env.dataDir, m)}) WHERE ${ident(r.ref.column ?? r.ref.field)} IS NOT NULL`,
    );
  }
}

export const ingestStage: Stage = {
  name: 'ingest',
  // Two files at once, each task on its own connection: the fixed per-task work of many small files
  // overlaps. (On the bench's two large files it measured neutral: both cores were already busy.)
  mapConcurrency: 2,

  async map(ctx: TaskContext, task: MapTask): Promise<TaskOutput> {
    const input = task.input as unknown as IngestInput;
    const { pipeline } = ctx.plan.config as unknown as IngestConfig;
    const source = pipeline.sources[input.source]!;
    const abs = (rel: string) => safeJoin(ctx.env.dataDir, rel);
    const t = `t_${ctx.taskId}`;
    const clock = phaseClock();
    let path = input.path;
    if (!path) {
      path = abs(`${ctx.outDir}/query.csv`);
      await exportQuery(source.postgres ?? process.env.SLUICE_SOURCE_PG, source.query!, path);
    }
    await ctx.duck.run(`SET memory_limit = ${lit(pipeline.options.memory_limit)}`);
    // With another task beside it, both cores are busy: a split scan's second thread only adds
    // its overhead (the bench's CSV: about 1.0 vs 0.8 CPU-s).
    const prepared = await prepareInput(ctx.duck, path, input.format, abs(`${ctx.outDir}/clean.txt`), `${t}_raw`, pipeline.options.max_record_bytes, (ctx.parallel ?? 1) <= 1);
    clock.lap('scan');
    const where = `source ${source.name}, ${input.file}`;
    const m = compileMapping(pipeline, source, prepared.access, where, joinedFields(pipeline));
    const fields = pipeline.schema.map((f) => f.name);
    const keep = prepared.gate ? ', __json, __ok, __vals, __valid' : '';
    let reason = m.outer[m.outer.length - 1]!.replace(/ AS __reason$/, '');
    if (prepared.gate) reason = `CASE WHEN NOT ${prepared.gate.ok} THEN ${prepared.gate.reason} ELSE ${reason} END`;
    const rawFields = pipeline.schema.filter((f) => !fieldMapOf(source, f.name).sql).map((f) => f.name);
    // Layers, so each expression is computed once: source text → typed → reasons → kept columns.
    // One pass writes every parsed record to the part; the rows that failed the mapping keep their
    // reason and raw text in hidden columns and are removed by the part's deletion file, so the
    // data is read and written once. `_id` and `_source` come from the stored record and line.
    const rules = compileRules(pipeline.rules, source.name);
    await loadRefTables(ctx, pipeline);
    await loadJoinTables(ctx.duck, ctx.catalog, ctx.env.dataDir, pipeline);
    const typedSql = applyJoins(pipeline, `SELECT *, ${m.typed.join(', ')} FROM (SELECT __rec, __line${keep}, ${m.inputs.join(', ')} FROM ${prepared.relation()})`);
    const mappedSql = `SELECT *, ${[...m.outer.slice(0, -1), `${reason} AS __reason`].join(', ')} FROM (${typedSql})`;
    // Rules run on rows the mapping could read: quarantine rules before review rules.
    const ruled =
      `SELECT *, CASE WHEN __reason IS NULL THEN ${rules.quarantine} END AS __rq, CASE WHEN __reason IS NULL THEN ${rules.review} END AS __rr, ` +
      `CASE WHEN __reason IS NULL THEN ${rules.fired} END AS __rules, ${rules.severity} AS __sev ` +
      `FROM (SELECT *${rules.flags.length ? ', ' + rules.flags.join(', ') : ''} FROM (${mappedSql}))`;
    const sql =
      `SELECT __rec, __line, ${fields.map(ident).join(', ')}, __reason, __review, __rules, CASE WHEN __review IS NOT NULL THEN __sev END AS __severity, ` +
      `CASE WHEN __reason IS NOT NULL OR __review IS NOT NULL THEN ${prepared.rawExpr(rawFields)} END AS __raw FROM (` +
      `SELECT * REPLACE (COALESCE(__reason, __rq) AS __reason), CASE WHEN __rq IS NULL THEN __rr END AS __review FROM (${ruled}))`;
    const partRel = `${ctx.outDir}/part-0.parquet`;
    try {
      // The part's row order carries no meaning (every row stores its record and line, and the
      // deletion file is computed from the written file), so DuckDB may write chunks as they
      // finish: keeping insertion order cost this COPY about 1.8x the CPU (measured on the ingest bench).
      // SESSION: tasks running side by side have their own connections and settings.
      await ctx.duck.run('SET SESSION preserve_insertion_order = false');
      // Parquet v2 encodings (delta for the record and line numbers): the bench's CSV part is 35%
      // smaller (65 vs 99 MB) and cheaper to write and to hash.
      await ctx.duck.run(`COPY (${sql}) TO ${lit(abs(partRel))} (${parquetWriterOptions()}, PARQUET_VERSION v2)`);
    } catch (e) {
      throw new InputError(`${where}: DuckDB could not read the cleaned records: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    } finally {
      await ctx.duck.run('RESET SESSION preserve_insertion_order');
    }
    clock.lap('copy');
    // The part's sha256 is computed on this thread while DuckDB writes the quarantine, deletion and
    // review files from it (the hash of the bench's 65 MB CSV part took about 0.1 s on its own).
    const partHash = sha256File(abs(partRel));
    partHash.catch(() => undefined); // awaited below; a failure is reported there
    // The COPY has read the scan's clean copy of the input (and a decompressed or exported input):
    // drop them, so a task's folder keeps only the files it commits (a 5 GB CSV left a 5 GB copy).
    for (const f of readdirSync(abs(ctx.outDir))) if (f.startsWith('clean.txt') || f === 'query.csv') rmSync(abs(`${ctx.outDir}/${f}`), { force: true });
    const prefix = lit(input.sha256.slice(0, 16) + ':');
    const failed = `(SELECT __rec, __line, __raw, __reason FROM read_parquet(${lit(abs(partRel))}) WHERE __reason IS NOT NULL)`;
    await loadBad(ctx.duck, `${t}_bad`, prepared.bad);
    const qRel = `${ctx.outDir}/quarantine-0.parquet`;
    await ctx.duck.run(
      `COPY (SELECT * FROM (
         SELECT ${prefix} || record AS _id, ${lit(source.name)} AS source, ${lit(input.file)} AS file, record, line, raw, reason, 'ingest' AS stage FROM ${ident(`${t}_bad`)}
         UNION ALL
         SELECT ${prefix} || __rec, ${lit(source.name)}, ${lit(input.file)}, __rec, __line, __raw, __reason, 'ingest' FROM ${failed}
       ) ORDER BY record) TO ${lit(abs(qRel))} (${parquetWriterOptions()})`,
    );
    clock.lap('quarantine');
    const reasonRows = await ctx.duck.all<{ reason: string; n: number }>(
      `SELECT split_part(reason, ':', 1) AS reason, count(*)::BIGINT AS n FROM read_parquet(${lit(abs(qRel))}) GROUP BY ALL ORDER BY ALL`,
    );
    await ctx.duck.run(`DROP TABLE IF EXISTS ${ident(`${t}_bad`)}; DROP TABLE IF EXISTS ${ident(`${t}_raw`)}; DROP TABLE IF EXISTS ${ident(`${t}_raw_arrow`)}`);
    const quarantine = await describeFile(ctx.duck, ctx.env.dataDir, qRel);
    // The deletion file is written in one pass over the part (no count first) and removed when empty.
    const dRel = `${ctx.outDir}/deletes-0.parquet`;
    await ctx.duck.run(
      `COPY (SELECT file_row_number AS pos FROM read_parquet(${lit(abs(partRel))}, file_row_number = true) WHERE __reason IS NOT NULL OR __review IS NOT NULL ORDER BY pos) ` +
        `TO ${lit(abs(dRel))} (${parquetWriterOptions()})`,
    );
    let deletes: FileEntry | undefined = await describeFile(ctx.duck, ctx.env.dataDir, dRel);
    if (deletes.rows === 0) {
      rmSync(abs(dRel), { force: true });
      deletes = undefined;
    }
    // Records waiting for a person: written beside the part, turned into review items after the commit.
    const rRel = `${ctx.outDir}/review-0.parquet`;
    await ctx.duck.run(
      `COPY (SELECT ${prefix} || __rec AS _id, {'source': ${lit(source.name)}, 'file': ${lit(input.file)}, 'record': __rec, 'line': __line} AS _source, ` +
        `${fields.map(ident).join(', ')}, __review AS reason, __rules AS rules, __severity AS severity FROM read_parquet(${lit(abs(partRel))}) WHERE __review IS NOT NULL ORDER BY __rec) ` +
        `TO ${lit(abs(rRel))} (${parquetWriterOptions()})`,
    );
    const review = await describeFile(ctx.duck, ctx.env.dataDir, rRel);
    // with no SQL rule for this source every row's list is empty: no pass over the part to count
    const ruleRows = rules.any
      ? await ctx.duck.all<{ rule: string; n: number }>(
          `SELECT rule, count(*)::BIGINT AS n FROM (SELECT unnest(__rules) AS rule FROM read_parquet(${lit(abs(partRel))})) GROUP BY ALL ORDER BY ALL`,
        )
      : [];
    const file = await describeFile(ctx.duck, ctx.env.dataDir, partRel, partHash);
    const part: Part = {
      ...file,
      ...(deletes ? { deletes } : {}),
      lineage: { prefix: input.sha256.slice(0, 16), source: source.name, file: input.file, first: 1, record_column: '__rec', line_column: '__line' },
      // __rules: the ids of the rules that fired, NULL when none did (parts written before 2026-11-28: [])
      hidden: ['__reason', '__review', '__rules', '__severity', '__raw'],
    };
    const accepted = file.rows - (deletes?.rows ?? 0);
    // The accounting invariant: every record the independent pass counted ends in exactly one place.
    if (accepted + quarantine.rows + review.rows !== prepared.records) {
      throw new InternalError(
        `${where}: ${prepared.records} records read, but ${accepted} accepted + ${quarantine.rows} quarantined + ${review.rows} for review = ${accepted + quarantine.rows + review.rows}`,
        { hint: 'this is a bug in sluice; please report it with the file' },
      );
    }
    clock.lap('accounting');
    ctx.progress(1, 1);
    const grouping = groupingOf(pipeline);
    const shuffle = grouping ? await shuffleAccepted(ctx.duck, ctx.env.dataDir, ctx.outDir, pipeline, grouping, part, source.priority, input.source) : undefined;
    clock.lap('shuffle');
    clock.report(`ingest ${ctx.taskId} (${input.file})`);
    const stats: IngestStats = {
      source: source.name,
      file: input.file,
      sha256: input.sha256,
      records: prepared.records,
      accepted,
      quarantined: quarantine.rows,
      review: review.rows,
      rules: Object.fromEntries(ruleRows.map((r) => [r.rule, Number(r.n)])),
      reviewFile: review,
      reasons: Object.fromEntries(reasonRows.map((r) => [r.reason, Number(r.n)])),
      notes: prepared.notes,
      quarantine,
    };
    return { parts: [part as unknown as FileEntry], stats: stats as unknown as Json, ...(shuffle ? { shuffle } : {}) };
  },

  async reduce(ctx, partition, inputs) {
    const { pipeline, reuse } = ctx.plan.config as unknown as IngestConfig;
    const head = reuse && ctx.plan.parent !== null ? await ctx.catalog.manifest(ctx.plan.dataset, ctx.plan.parent) : null;
    const r = await reduceDuplicates(ctx.duck, ctx.env.dataDir, ctx.outDir, pipeline, groupingOf(pipeline)!, partition, inputs, head);
    return {
      parts: r.part && r.part.rows > 0 ? [r.part] : [],
      stats: {
        dropped: r.dropped,
        superseded: r.superseded,
        duplicates: r.duplicates as unknown as Json,
        review: r.review as unknown as Json,
        reviewRecords: r.reviewRecords,
        quarantine: r.quarantine as unknown as Json,
        quarantineRecords: r.quarantineRecords,
      },
    };
  },

  rebase: () => false,

  async commit(plan: PlanSpec, outputs: PlanOutputs, head: Manifest | null): Promise<CommitDraft> {
    const { pipeline, reuse } = plan.config as unknown as IngestConfig;
    const stats = plan.maps.map((m) => outputs.maps.get(m.id)!.stats as unknown as IngestStats);
    const newParts = plan.maps.map((m) => (outputs.maps.get(m.id)!.parts as Part[])[0]!).filter((p) => p.rows - (p.deletes?.rows ?? 0) > 0);
    const keepHead = reuse && head !== null;
    // With dedupe the reduce tasks wrote the final parts (the head's rows took part in them).
    const reduced = [...outputs.reduces.values()];
    const grouped = groupingOf(pipeline) !== null;
    const parts = grouped ? reduced.flatMap((o) => (o.parts ?? []) as Part[]) : keepHead ? [...head.parts, ...newParts] : newParts;
    const dupFiles = reduced.map((o) => (o.stats as { duplicates: FileEntry | null }).duplicates).filter((f): f is FileEntry => Boolean(f && f.rows > 0));
    const dropped = reduced.reduce((n, o) => n + Number((o.stats as { dropped: number }).dropped), 0);
    const superseded = reduced.reduce((n, o) => n + Number((o.stats as { superseded: number }).superseded), 0);
    const conflictRecords = reduced.reduce((n, o) => n + Number((o.stats as { reviewRecords?: number }).reviewRecords ?? 0), 0);
    const conflictFiles = reduced.map((o) => (o.stats as { review?: FileEntry | null }).review).filter((f): f is FileEntry => Boolean(f && f.rows > 0));
    // rows a unique rule sent to quarantine in the reduce step
    const reducedQuarantine = reduced.map((o) => (o.stats as { quarantine?: FileEntry | null }).quarantine).filter((f): f is FileEntry => Boolean(f && f.rows > 0));
    const uniqueQuarantined = reduced.reduce((n, o) => n + Number((o.stats as { quarantineRecords?: number }).quarantineRecords ?? 0), 0);
    const ingested = [...(keepHead ? ((head.extra?.ingested as IngestStats[] | undefined) ?? []) : []), ...stats.map(({ quarantine: _q, reviewFile: _r, ...s }) => s)];
    const licences: Licence[] = pipeline.sources
      .filter((s) => s.licence)
      .map((s) => ({ source: s.name, owner: s.licence!.owner, licence: s.licence!.licence, ...(s.licence!.expires ? { expires: s.licence!.expires } : {}), ...(s.licence!.uses ? { uses: s.licence!.uses } : {}) }));
    const schema = [
      { name: '_id', type: 'VARCHAR', nullable: false, description: 'record id: source file sha256 prefix and record number' },
      { name: '_source', type: 'STRUCT("source" VARCHAR, file VARCHAR, record BIGINT, line BIGINT)', nullable: false, description: 'where the record came from' },
      ...targetColumns(pipeline),
      ...(pipeline.conflicts ? [{ name: '_winners', type: 'VARCHAR', nullable: true, description: 'for merged entities: the source each field came from (JSON)' }] : []),
    ];
    const qParts = [...stats.map((s) => s.quarantine!).filter((q) => q.rows > 0), ...reducedQuarantine];
    return {
      schema: schema.map((c) => ({ ...c, nullable: SYSTEM_COLUMNS.includes(c.name as never) ? false : c.nullable })),
      parts,
      rows: parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
      parents: head ? [`${head.dataset}@${head.version}`] : [],
      operation: 'curate',
      config_hash: configHash(pipeline),
      config: pipeline as unknown as Json,
      licences,
      extra: {
        ingested,
        run: {
          files: stats.length,
          records: sum(stats, 'records'),
          accepted: sum(stats, 'accepted') - dropped - conflictRecords - uniqueQuarantined,
          quarantined: sum(stats, 'quarantined') + uniqueQuarantined,
          review: sum(stats, 'review') + conflictRecords,
          ...(grouped ? { duplicates: dropped, superseded } : {}),
          ...(pipeline.conflicts ? { conflicts: conflictFiles.reduce((n, f) => n + f.rows, 0) } : {}),
        },
        review_files: [...stats.flatMap((s) => (s.reviewFile && s.reviewFile.rows > 0 ? [s.reviewFile] : [])), ...conflictFiles],
      },
      companions: [
        {
          dataset: `${plan.dataset}-quarantine`,
          parts: qParts,
          schema: QUARANTINE_SCHEMA,
          operation: 'quarantine',
          config_hash: configHash(pipeline),
          licences,
          replace: !keepHead,
        },
        ...(grouped
          ? [{ dataset: `${plan.dataset}-duplicates`, parts: dupFiles, schema: DUPLICATES_SCHEMA, operation: 'duplicates', config_hash: configHash(pipeline), licences, replace: !keepHead }]
          : []),
      ],
    };
  },
};

function sum(xs: IngestStats[], k: 'records' | 'accepted' | 'quarantined' | 'review'): number {
  return xs.reduce((n, x) => n + x[k], 0);
}
