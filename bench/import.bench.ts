// Benchmark `import`: the full `sluice import` path (plan, `_id` lineage, the parts' sha256, the
// catalog commit) on a generated 2M-row CSV, beside bare DuckDB CSV → Parquet on the same file.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { impressionsCsv } from './gen.ts';
import { median, timePair, type Bench, type Measure } from './lib.ts';

const FULL_ROWS = 2_000_000; // ≈ 177 MB of CSV
const QUICK_ROWS = 200_000;

/** What one side of the pair costs besides wall time: peak RSS and CPU seconds (all threads). */
interface Cost {
  peakRss: number;
  cpu: number[];
}

/** Runs `fn`, sampling RSS every 20 ms and CPU time (user + system, DuckDB's threads included). */
async function metered(cost: Cost, fn: () => Promise<void>): Promise<void> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const cpu0 = process.cpuUsage();
  try {
    await fn();
  } finally {
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    cost.cpu.push((cpu.user + cpu.system) / 1e6);
    cost.peakRss = Math.max(cost.peakRss, peak, process.memoryUsage.rss());
  }
}

/** Bare DuckDB: a fresh in-memory session with `threads`, one COPY, close. */
async function bareCopy(csv: string, out: string, threads: number): Promise<void> {
  const duck = await DuckSession.open({ threads });
  try {
    await duck.run(`COPY (FROM read_csv(${lit(csv)})) TO ${lit(out)} (FORMAT parquet)`);
  } finally {
    duck.close();
  }
}

/** The whole `sluice import` path through the API, into a fresh project at `dir`. */
async function sluiceImport(csv: string, dir: string, threads: number, rows: number): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  Project.init(dir, 'bench'); // a millisecond: it stays inside the timing
  const project = await Project.open(dir, { threads });
  try {
    const m = await importFiles(project, { name: 'impressions', files: [csv] }, new LocalRunner(await project.duck(), project.catalog));
    if (m.rows !== rows) throw new Error(`import committed ${m.rows} rows, expected ${rows}`);
  } finally {
    await project.close();
  }
}

export const bench: Bench = {
  name: 'import: CSV → dataset version (full sluice path) vs bare DuckDB COPY to Parquet',
  async run(ctx) {
    const rows = ctx.quick ? QUICK_ROWS : FULL_ROWS;
    const t0 = performance.now();
    const file = await impressionsCsv(join(ctx.dir, 'data'), rows);
    const mb = file.bytes / 1e6;
    ctx.log(`${file.fresh ? 'generated' : 'cached'} ${file.path}: ${rows} rows, ${mb.toFixed(1)} MB${file.fresh ? ` in ${((performance.now() - t0) / 1000).toFixed(1)} s` : ''}`);

    // Both sides get the thread budget a project gets by default, so the ratio compares like with like.
    const probeDir = join(ctx.dir, 'probe');
    mkdirSync(probeDir, { recursive: true });
    Project.init(probeDir, 'probe');
    const probe = await Project.open(probeDir);
    const threads = probe.budget.duckdb;
    await probe.close();
    ctx.log(`DuckDB threads: ${threads} on both sides`);

    // Warm-up on a small file: loads (and transpiles) every module once, as a long-lived process
    // would have; a CLI run pays this once per command (see the `sluice import` CLI timing in the README).
    const warm = await impressionsCsv(join(ctx.dir, 'data'), 10_000);
    await bareCopy(warm.path, join(ctx.dir, 'warm.parquet'), threads);
    await sluiceImport(warm.path, probeDir, threads, warm.rows);
    rmSync(probeDir, { recursive: true, force: true });
    rmSync(join(ctx.dir, 'warm.parquet'), { force: true });

    const cost = { anchor: { peakRss: 0, cpu: [] } as Cost, ours: { peakRss: 0, cpu: [] } as Cost };
    const runs = await timePair(
      ctx.repeats,
      async (i) => {
        const out = join(ctx.dir, `bare-${i}.parquet`);
        await metered(cost.anchor, () => bareCopy(file.path, out, threads));
        rmSync(out, { force: true });
      },
      async (i) => {
        const dir = join(ctx.dir, `project-${i}`);
        await metered(cost.ours, () => sluiceImport(file.path, dir, threads, rows));
        rmSync(dir, { recursive: true, force: true });
      },
    );
    const fmt = (xs: number[]) => xs.map((s) => s.toFixed(2)).join(', ');
    ctx.log(`wall s per run — bare DuckDB: ${fmt(runs.anchorRuns)}; sluice import: ${fmt(runs.oursRuns)}`);
    ctx.log(`CPU s per run  — bare DuckDB: ${fmt(cost.anchor.cpu)}; sluice import: ${fmt(cost.ours.cpu)}`);

    // The machine is shared: the best run of each side and the CPU-time ratio are less noisy than medians.
    const best = Math.min(...runs.anchorRuns) / Math.min(...runs.oursRuns);
    const cpuRatio = median(cost.anchor.cpu) / median(cost.ours.cpu);
    const notes = {
      rows,
      csv_MB: mb.toFixed(1),
      threads,
      ours_s: runs.ours.toFixed(2),
      bare_s: runs.anchor.toFixed(2),
      best_run_ratio: best.toFixed(2),
      cpu_time_ratio: cpuRatio.toFixed(2),
      peak_rss_ours_MB: (cost.ours.peakRss / 1e6).toFixed(0),
      peak_rss_bare_MB: (cost.anchor.peakRss / 1e6).toFixed(0),
    };
    const measures: Measure[] = [
      { name: `import ${rows} rows`, unit: 'MB/s', ours: mb / runs.ours, anchor: mb / runs.anchor, anchorName: 'bare DuckDB COPY', goal: 0.8, notes },
      { name: `import ${rows} rows`, unit: 'rows/s', ours: rows / runs.ours, anchor: rows / runs.anchor, anchorName: 'bare DuckDB COPY', goal: 0.8 },
    ];
    return measures;
  },
};
