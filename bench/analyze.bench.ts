// Benchmark `analyze`: full two-pass stats (a plan per pass, partials merged) on 3M rows × 10
// columns beside DuckDB's SUMMARIZE of the same part; split and rebalance on 10M rows beside a
// bare DuckDB COPY of the same rows to Parquet. All in one project session, same thread budget.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from '../src/core/project.ts';
import { safeJoin } from '../src/core/names.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { computeStats } from '../src/analyze/stats.ts';
import { splitVersion } from '../src/analyze/split.ts';
import { rebalanceVersion } from '../src/analyze/rebalance.ts';
import { impressionsSql } from './gen.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

/** 10 columns of the generated impressions (impression_id left out). */
async function impressionsParquet(dir: string, rows: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `impressions10-${rows}.parquet`);
  if (existsSync(path)) return path;
  const duck = await DuckSession.open();
  try {
    await duck.run(`COPY (SELECT * EXCLUDE (impression_id) FROM (${impressionsSql(rows, 7)})) TO ${lit(path + '.tmp')} (FORMAT parquet)`);
  } finally {
    duck.close();
  }
  renameSync(path + '.tmp', path);
  return path;
}

export const bench: Bench = {
  name: 'analyze: stats vs DuckDB SUMMARIZE; split and rebalance vs a bare COPY to Parquet',
  async run(ctx) {
    const statRows = ctx.quick ? 300_000 : 3_000_000;
    const moveRows = ctx.quick ? 1_000_000 : 10_000_000;
    const dir = join(ctx.dir, 'project');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    Project.init(dir, 'bench');
    const project = await Project.open(dir);
    const duck = await project.duck();
    const runner = new LocalRunner(duck, project.catalog);
    const out: Measure[] = [];
    try {
      ctx.log(`DuckDB threads: ${project.budget.duckdb} on both sides`);
      const small = await impressionsParquet(join(ctx.dir, 'data'), statRows);
      const big = await impressionsParquet(join(ctx.dir, 'data'), moveRows);
      const ms = await importFiles(project, { name: 'stats-in', files: [small] }, runner);
      const mb = await importFiles(project, { name: 'events', files: [big] }, runner);
      ctx.log(`imported ${ms.rows} rows (stats) and ${mb.rows} rows (split, rebalance)`);

      // stats: full two passes with a new run id each time (no task reuse) vs SUMMARIZE of the part
      const partS = safeJoin(project.dataDir, ms.parts[0]!.path);
      await computeStats(project, 'stats-in', { runner, runTag: 'warm' });
      const st = await timePair(
        ctx.repeats,
        async () => void (await duck.all(`SUMMARIZE SELECT * FROM read_parquet(${lit(partS)})`)),
        async (i) => void (await computeStats(project, 'stats-in', { runner, label: 'clicked', runTag: `r${i}-${Date.now()}` })),
      );
      ctx.log(`stats runs ${st.oursRuns.map((s) => s.toFixed(2)).join(' ')} s; SUMMARIZE ${st.anchorRuns.map((s) => s.toFixed(2)).join(' ')} s`);
      out.push({ name: `stats ${statRows / 1e6}M rows × 10 columns`, unit: 'rows/s', ours: statRows / st.ours, anchor: statRows / st.anchor, anchorName: 'DuckDB SUMMARIZE', goal: 0.5, notes: { ours_s: st.ours.toFixed(2), summarize_s: st.anchor.toFixed(2) } });

      const partB = safeJoin(project.dataDir, mb.parts[0]!.path);
      const copyOut = join(ctx.dir, 'copy.parquet');
      const copy = async () => {
        await duck.run(`COPY (SELECT * FROM read_parquet(${lit(partB)})) TO ${lit(copyOut)} (FORMAT parquet)`);
      };
      const pairs: [string, (i: number) => Promise<void>][] = [
        ['split 0.8/0.1/0.1 by hash of user_id', async (i) => void (await splitVersion(project, 'events', { ratios: [0.8, 0.1, 0.1], group: 'user_id', seed: i + 1, out: `g${i}`, runner }))],
        ['split 0.8/0.1/0.1 grouped by user_id, stratified by clicked', async (i) => void (await splitVersion(project, 'events', { ratios: [0.8, 0.1, 0.1], group: 'user_id', stratify: 'clicked', seed: i + 1, out: `gs${i}`, runner }))],
        // about 26% of the generated impressions are clicks: 0.5 grows the clicks, and cuts the rest
        ['rebalance --oversample 0.5', async (i) => void (await rebalanceVersion(project, 'events', { label: 'clicked', oversample: 0.5, seed: i + 1, out: `over${i}`, runner }))],
        ['rebalance --undersample 0.5', async (i) => void (await rebalanceVersion(project, 'events', { label: 'clicked', undersample: 0.5, seed: i + 1, out: `under${i}`, runner }))],
      ];
      for (const [name, fn] of pairs) {
        const t = await timePair(ctx.repeats, copy, fn);
        ctx.log(`${name}: ${t.oursRuns.map((s) => s.toFixed(2)).join(' ')} s; COPY ${t.anchorRuns.map((s) => s.toFixed(2)).join(' ')} s`);
        out.push({ name: `${name}, ${moveRows / 1e6}M rows`, unit: 'rows/s', ours: moveRows / t.ours, anchor: moveRows / t.anchor, anchorName: 'bare DuckDB COPY to Parquet', goal: 0.7 });
      }
      rmSync(copyOut, { force: true });
    } finally {
      await project.close();
    }
    return out;
  },
};
