// Benchmark `import`: the full `sluice import` path (plan, `_id` lineage, the parts' sha256, the
// catalog commit) on a generated 2M-row CSV, beside bare DuckDB CSV → Parquet on the same file.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { impressionsCsv } from './gen.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

const FULL_ROWS = 2_000_000; // ≈ 178 MB of CSV
const QUICK_ROWS = 200_000;

/** Samples the process's RSS while `fn` runs; returns the peak in bytes (sampling every 20 ms). */
async function withPeakRss(fn: () => Promise<void>): Promise<number> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss());
}

export const bench: Bench = {
  name: 'import: CSV → dataset version (full sluice path) vs bare DuckDB COPY to Parquet',
  async run(ctx) {
    const rows = ctx.quick ? QUICK_ROWS : FULL_ROWS;
    const t0 = performance.now();
    const file = await impressionsCsv(join(ctx.dir, 'data'), rows);
    ctx.log(`${file.fresh ? 'generated' : 'cached'} ${file.path}: ${rows} rows, ${(file.bytes / 1e6).toFixed(1)} MB${file.fresh ? ` in ${((performance.now() - t0) / 1000).toFixed(1)} s` : ''}`);

    // Both sides get the thread budget a project gets by default, so the ratio compares like with like.
    const probe = await Project.open(initProject(join(ctx.dir, 'probe')));
    const threads = probe.budget.duckdb;
    await probe.close();
    rmSync(join(ctx.dir, 'probe'), { recursive: true, force: true });
    ctx.log(`DuckDB threads: ${threads} on both sides`);

    const rss = { anchor: 0, ours: 0 };
    const runs = await timePair(
      ctx.repeats,
      async (i) => {
        const out = join(ctx.dir, `bare-${i}.parquet`);
        rss.anchor = Math.max(rss.anchor, await withPeakRss(async () => {
          const duck = await DuckSession.open({ threads });
          try {
            await duck.run(`COPY (FROM read_csv(${lit(file.path)})) TO ${lit(out)} (FORMAT parquet)`);
          } finally {
            duck.close();
          }
        }));
        rmSync(out, { force: true });
      },
      async (i) => {
        const dir = join(ctx.dir, `project-${i}`);
        rmSync(dir, { recursive: true, force: true });
        rss.ours = Math.max(rss.ours, await withPeakRss(async () => {
          const project = await Project.open(initProject(dir), { threads });
          try {
            const m = await importFiles(project, { name: 'impressions', files: [file.path] }, new LocalRunner(await project.duck(), project.catalog));
            if (m.rows !== rows) throw new Error(`import committed ${m.rows} rows, expected ${rows}`);
          } finally {
            await project.close();
          }
        }));
        rmSync(dir, { recursive: true, force: true });
      },
    );
    const fmt = (xs: number[]) => xs.map((s) => s.toFixed(2)).join(', ');
    ctx.log(`seconds per run — bare DuckDB: ${fmt(runs.anchorRuns)}; sluice import: ${fmt(runs.oursRuns)}`);

    const mb = file.bytes / 1e6;
    const notes = {
      rows,
      csv_MB: mb.toFixed(1),
      threads,
      ours_s: runs.ours.toFixed(2),
      bare_s: runs.anchor.toFixed(2),
      peak_rss_ours_MB: (rss.ours / 1e6).toFixed(0),
      peak_rss_bare_MB: (rss.anchor / 1e6).toFixed(0),
    };
    const measures: Measure[] = [
      { name: `import ${rows} rows`, unit: 'MB/s', ours: mb / runs.ours, anchor: mb / runs.anchor, anchorName: 'bare DuckDB COPY', goal: 0.8, notes },
      { name: `import ${rows} rows`, unit: 'rows/s', ours: rows / runs.ours, anchor: rows / runs.anchor, anchorName: 'bare DuckDB COPY', goal: 0.8 },
    ];
    return measures;
  },
};

/** A fresh, empty project folder: creating it takes a millisecond, so it stays inside the timing. */
function initProject(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return Project.init(dir, 'bench');
}
