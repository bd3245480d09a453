// Benchmark `curate`: the ingest benchmark's inputs (2M-row impressions CSV + 1M-row clicks JSONL,
// 1% malformed) plus a file repeating 2% of the impressions, through `curate` end to end with 10
// rules (range, regex, enum, unique key, referential, cross-field SQL, review and warn actions),
// beside bare DuckDB reading the same files into Parquet in the same run. `--predicate` adds a
// run with an 11th rule written as a TypeScript predicate.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { curate, type CurateResult } from '../src/curate/curate.ts';
import { definePipeline, type Pipeline, type PipelineInput } from '../src/curate/pipeline.ts';
import { impressionsCsv } from './gen.ts';
import { clicksJsonl, damage, pipeline as ingestPipeline } from './ingest.bench.ts';
import { median, type Bench, type Measure } from './lib.ts';

/** Every 50th data line of `src` again (2% duplicates of the impressions), with the header. */
function duplicates(src: string, dst: string): void {
  if (existsSync(dst)) return;
  const lines = readFileSync(src, 'utf8').split('\n');
  const picked = lines.filter((l, i) => i > 0 && i % 50 === 0 && l);
  writeFileSync(dst, [lines[0], ...picked].join('\n') + '\n');
}

const RULES: PipelineInput['rules'] = [
  { id: 'bid-range', range: { field: 'bid', min: 0.05, max: 3 }, message: 'bid outside the auction floor and cap' },
  { id: 'request-id-format', regex: { field: 'request_id', pattern: '[0-9a-f]{12}' } },
  { id: 'user-id-format', regex: { field: 'user_id', pattern: 'u[0-9]+' } },
  { id: 'country-known', enum: { field: 'country', values: ['US', 'DE', 'FR', 'JP', 'BR', 'IN', 'GB', 'CA'] } },
  { id: 'device-known', enum: { field: 'device', values: ['mobile', 'desktop', 'tablet'] }, action: 'warn' },
  { id: 'ts-window', sql: `ts >= TIMESTAMP '2026-10-01' AND ts < TIMESTAMP '2026-11-01'` },
  { id: 'click-has-ctr', sql: 'clicked IS NOT TRUE OR pctr IS NULL OR pctr > 0', action: 'warn' },
  { id: 'campaign-watch', sql: 'campaign_id IS NULL OR campaign_id <> 499', action: 'review', severity: 3 },
  { id: 'ad-exists', ref: { field: 'ad_id', dataset: 'ads' } },
  // clicks have no request_id: the pair keeps their ids apart from the impressions'
  { id: 'impression-unique', unique: ['id', 'request_id'] },
];

/** A fresh project holding the `ads` dataset the referential rule reads (one ad in 1000 is unknown). */
async function project(dir: string): Promise<Project> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  Project.init(dir);
  const p = await Project.open(dir, { threads: 2 });
  const ads = join(dir, 'ads.csv');
  writeFileSync(ads, 'ad_id\n' + Array.from({ length: 20_000 }, (_, i) => i).filter((i) => i % 1000 !== 7).map((i) => `ad${i}`).join('\n') + '\n');
  const def = definePipeline({ target: 'ads', schema: [{ name: 'ad_id', type: 'string' }], sources: [{ name: 'catalog', files: ads }] });
  await curate(p, def, dir, new LocalRunner(await p.duck(), p.catalog));
  return p;
}

export const bench: Bench = {
  name: 'curate: ingest inputs + 2% duplicates, 10 rules (range, regex, enum, unique key, referential, cross-field, review, warn) vs bare DuckDB → Parquet',
  async run(ctx) {
    const csvRows = ctx.quick ? 200_000 : 2_000_000;
    const jsonRows = ctx.quick ? 100_000 : 1_000_000;
    const gen = join(ctx.dir, '..', 'ingest'); // the ingest benchmark's cached inputs, when present
    const clean = await impressionsCsv(join(gen, 'gen'), csvRows);
    const csv = join(gen, `impressions-${csvRows}-damaged.csv`);
    damage(clean.path, csv, 'csv');
    const jsonl = join(gen, `clicks-${jsonRows}-damaged.jsonl`);
    damage(await clicksJsonl(join(gen, 'gen'), jsonRows), jsonl, 'jsonl');
    const dups = join(ctx.dir, `impressions-${csvRows}-dups.csv`);
    duplicates(csv, dups);
    const files = [csv, dups, jsonl];
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    const base = ingestPipeline(csv, jsonl);
    const p: Pipeline = definePipeline({ ...base, sources: [{ ...base.sources[0]!, files: [csv, dups] }, base.sources[1]!], rules: RULES });

    const bare: number[] = [];
    const ours: number[] = [];
    const bareCpu: number[] = [];
    const oursCpu: number[] = [];
    const cpu = () => (({ user, system }) => (user + system) / 1e6)(process.cpuUsage());
    let phases = '';
    let last: CurateResult | undefined;
    for (let i = 0; i < ctx.repeats; i++) {
      let t = performance.now();
      let c = cpu();
      const duck = await DuckSession.open({ threads: 2 });
      await duck.run(`COPY (FROM read_csv([${lit(csv)}, ${lit(dups)}], ignore_errors = true)) TO ${lit(join(ctx.dir, 'bare-csv.parquet'))} (FORMAT parquet)`);
      await duck.run(`COPY (FROM read_json(${lit(jsonl)}, format = 'newline_delimited', ignore_errors = true)) TO ${lit(join(ctx.dir, 'bare-json.parquet'))} (FORMAT parquet)`);
      duck.close();
      bare.push((performance.now() - t) / 1000);
      bareCpu.push(cpu() - c);
      // The project and its `ads` reference dataset are set up outside the timed part.
      const dir = join(ctx.dir, `project-${i}`);
      const proj = await project(dir);
      const runner = new LocalRunner(await proj.duck(), proj.catalog);
      // where the CPU goes, by plan phase (the commit includes the run's accounting)
      const seen: [string, number][] = [];
      const lap = (phase: string) => seen.push([phase, cpu()]);
      t = performance.now();
      c = cpu();
      last = await curate(proj, p, ctx.dir, runner, (pr) => (seen.at(-1)?.[0] !== pr.phase ? lap(pr.phase) : undefined));
      lap('end');
      ours.push((performance.now() - t) / 1000);
      oursCpu.push(cpu() - c);
      phases = seen.slice(0, -1).map(([ph, at], k) => `${ph} ${(seen[k + 1]![1] - at).toFixed(2)}`).join(', ');
      await proj.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const total = (k: 'records' | 'accepted' | 'quarantined' | 'review' | 'duplicate') => last!.summary.sources.reduce((n, s) => n + s[k], 0);
    ctx.log(`input ${(bytes / 1e6).toFixed(0)} MB; records ${total('records')}: accepted ${total('accepted')}, quarantined ${total('quarantined')}, review ${total('review')}, duplicate ${total('duplicate')}`);
    ctx.log(`CPU-s by phase (last run; commit includes the accounting and review items): ${phases}`);
    ctx.log(`rules fired: ${last!.summary.rules.map((r) => `${r.id} ${r.fired}`).join(', ')}`);
    const measure: Measure = {
      name: `curate ${(total('records') / 1e6).toFixed(2)}M records (${(bytes / 1e6).toFixed(0)} MB), 10 rules`,
      unit: 'MB/s',
      ours: bytes / 1e6 / median(ours),
      anchor: bytes / 1e6 / median(bare),
      anchorName: 'bare DuckDB read → Parquet',
      goal: 0.5,
      notes: { ours_s: ours.map((x) => x.toFixed(2)).join('/'), bare_s: bare.map((x) => x.toFixed(2)).join('/') },
    };
    // On a shared machine wall time swings with the load; CPU seconds (all threads) do much less.
    const byCpu: Measure = {
      ...measure,
      name: `${measure.name}, by CPU time`,
      unit: 'MB per CPU-s',
      ours: bytes / 1e6 / median(oursCpu),
      anchor: bytes / 1e6 / median(bareCpu),
      notes: { ours_cpu_s: oursCpu.map((x) => x.toFixed(2)).join('/'), bare_cpu_s: bareCpu.map((x) => x.toFixed(2)).join('/') },
    };
    if (!process.argv.includes('--predicate')) return [measure, byCpu];
    // `--predicate`: the same run with an 11th rule as a TypeScript predicate (every row that
    // passed the SQL rules goes through JS once, in DuckDB chunks), to show what that path costs.
    const withFn = definePipeline({ ...p, rules: [...RULES, { id: 'bid-cap-ts', predicate: (b) => b.bid!.map((x) => x === null || (x as number) <= 3) }] });
    const proj = await project(join(ctx.dir, 'project-predicate'));
    const c0 = cpu();
    const t0 = performance.now();
    await curate(proj, withFn, ctx.dir, new LocalRunner(await proj.duck(), proj.catalog));
    const secs = (performance.now() - t0) / 1000;
    const cpuS = cpu() - c0;
    await proj.close();
    rmSync(join(ctx.dir, 'project-predicate'), { recursive: true, force: true });
    return [
      measure,
      byCpu,
      { ...byCpu, name: `${measure.name} + 1 TypeScript predicate, by CPU time`, ours: bytes / 1e6 / cpuS, notes: { ours_cpu_s: cpuS.toFixed(2), ours_s: secs.toFixed(2) } },
    ];
  },
};
