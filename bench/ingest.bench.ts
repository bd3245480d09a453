// Benchmark `ingest`: `sluice curate` on a 2M-row impressions CSV plus a 1M-row clicks JSONL,
// each with 1% malformed rows and a mapping on every column (accounting included), beside bare
// DuckDB reading the same files into Parquet (ignore_errors on, so it finishes).
// `--big` also runs a ~5 GB CSV once and reports peak RSS (goal: under 2 GB).
import { existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, rmSync, writeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { curate } from '../src/curate/curate.ts';
import { definePipeline, type Pipeline } from '../src/curate/pipeline.ts';
import { impressionsCsv } from './gen.ts';
import { timePair, type Bench, type Measure } from './lib.ts';

/** Copies `src` to `dst`, damaging every 100th data line in one of four ways. */
export function damage(src: string, dst: string, kind: 'csv' | 'jsonl'): number {
  if (existsSync(dst)) return 0;
  const inFd = openSync(src, 'r');
  const tmp = `${dst}.tmp`;
  const outFd = openSync(tmp, 'w');
  const buf = Buffer.allocUnsafe(1 << 24);
  let carry = '';
  let line = 0;
  let damaged = 0;
  for (;;) {
    const n = readSync(inFd, buf, 0, buf.length, null);
    const text = carry + buf.toString('utf8', 0, n);
    const lines = text.split('\n');
    carry = n === 0 ? '' : lines.pop()!;
    const out: string[] = [];
    for (const l of lines) {
      line++;
      if (line > 1 && line % 100 === 0 && l) {
        damaged++;
        const k = (line / 100) % 4;
        if (kind === 'csv') out.push(k === 0 ? l.slice(0, l.lastIndexOf(',')) : k === 1 ? l + ',extra' : k === 2 ? l.replace(/,(\d+\.\d+),/, ',1.2.3,') : l.replace(',u', ',u"'));
        else out.push(k === 0 ? l.slice(0, -5) : k === 1 ? '[' + l + ']' : k === 2 ? l.replace(/"bid":[^,]+/, '"bid":"x"') : l.replace('{', '{,'));
      } else out.push(l);
    }
    if (out.length) writeSync(outFd, out.join('\n') + '\n');
    if (n === 0) break;
  }
  closeSync(inFd);
  closeSync(outFd);
  renameSync(tmp, dst);
  return damaged;
}

export async function clicksJsonl(dir: string, rows: number): Promise<string> {
  const path = join(dir, `clicks-${rows}.jsonl`);
  if (existsSync(path)) return path;
  const duck = await DuckSession.open();
  await duck.run(
    `COPY (SELECT i AS click_id, 'u' || (hash(i, 3) % 100000) AS user_id, 'ad' || (hash(i, 4) % 20000) AS ad_id,
       strftime(TIMESTAMP '2026-10-01' + to_seconds(i::BIGINT), '%Y-%m-%dT%H:%M:%S') AS ts, round((hash(i, 5) % 300)::DOUBLE / 100, 2) AS bid,
       ['ios', 'android', 'web'][1 + (hash(i, 6) % 3)::INT] AS platform FROM range(${rows}) t(i)) TO ${lit(path + '.tmp')} (FORMAT json)`,
  );
  duck.close();
  renameSync(path + '.tmp', path);
  return path;
}

export function pipeline(csv: string, jsonl: string): Pipeline {
  const cc = { us: 'US', de: 'DE', fr: 'FR', jp: 'JP', br: 'BR', in: 'IN', gb: 'GB', ca: 'CA' };
  return definePipeline({
    target: 'events',
    schema: [
      { name: 'id', type: 'int', nullable: false },
      { name: 'request_id', type: 'string' },
      { name: 'user_id', type: 'string', nullable: false },
      { name: 'ad_id', type: 'string', nullable: false },
      { name: 'campaign_id', type: 'int' },
      { name: 'ts', type: 'timestamp', nullable: false },
      { name: 'country', type: 'string' },
      { name: 'device', type: 'string' },
      { name: 'bid', type: 'float' },
      { name: 'pctr', type: 'float' },
      { name: 'clicked', type: 'bool' },
    ],
    sources: [
      {
        name: 'impressions',
        files: csv,
        map: {
          id: 'impression_id',
          ts: { from: 'ts', formats: ['%Y-%m-%d %H:%M:%S'] },
          country: { from: 'country', values: cc },
          device: { from: 'device', values: { mobile: 'mobile', desktop: 'desktop', tablet: 'tablet', ctv: 'ctv' } },
          bid: { from: 'bid', number: { thousands: ',' } },
        },
      },
      {
        name: 'clicks',
        files: jsonl,
        map: {
          id: 'click_id',
          ts: { from: 'ts', formats: ['%Y-%m-%dT%H:%M:%S'] },
          device: { from: 'platform', values: { ios: 'mobile', android: 'mobile', web: 'desktop' } },
          bid: { from: 'bid', scale: 1 },
          clicked: { from: 'clicked', default: true },
        },
      },
    ],
  });
}

async function peakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 25);
  try {
    return { value: await fn(), peak };
  } finally {
    clearInterval(t);
  }
}

export const bench: Bench = {
  name: 'ingest: curate CSV + JSONL with 1% malformed rows and mappings on every column vs bare DuckDB → Parquet',
  async run(ctx) {
    const csvRows = ctx.quick ? 200_000 : 2_000_000;
    const jsonRows = ctx.quick ? 100_000 : 1_000_000;
    const clean = await impressionsCsv(join(ctx.dir, 'gen'), csvRows);
    const csv = join(ctx.dir, `impressions-${csvRows}-damaged.csv`);
    damage(clean.path, csv, 'csv');
    const jsonl = join(ctx.dir, `clicks-${jsonRows}-damaged.jsonl`);
    damage(await clicksJsonl(join(ctx.dir, 'gen'), jsonRows), jsonl, 'jsonl');
    const bytes = statSync(csv).size + statSync(jsonl).size;
    const rows = csvRows + jsonRows;
    const p = pipeline(csv, jsonl);
    let last = { accepted: 0, quarantined: 0, records: 0 };
    let peak = 0;
    const t = await timePair(
      ctx.repeats,
      async () => {
        const duck = await DuckSession.open({ threads: 2 });
        await duck.run(`COPY (FROM read_csv(${lit(csv)}, ignore_errors = true)) TO ${lit(join(ctx.dir, 'bare-csv.parquet'))} (FORMAT parquet)`);
        await duck.run(`COPY (FROM read_json(${lit(jsonl)}, format = 'newline_delimited', ignore_errors = true)) TO ${lit(join(ctx.dir, 'bare-json.parquet'))} (FORMAT parquet)`);
        duck.close();
      },
      async (i) => {
        const dir = join(ctx.dir, `project-${i}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        Project.init(dir);
        const project = await Project.open(dir, { threads: 2 });
        const runner = new LocalRunner(await project.duck(), project.catalog);
        const r = await peakRss(() => curate(project, p, ctx.dir, runner));
        peak = Math.max(peak, r.peak);
        last = r.value.stats.reduce((a, s) => ({ accepted: a.accepted + s.accepted, quarantined: a.quarantined + s.quarantined, records: a.records + s.records }), { accepted: 0, quarantined: 0, records: 0 });
        await project.close();
        rmSync(dir, { recursive: true, force: true });
      },
    );
    ctx.log(`input ${(bytes / 1e6).toFixed(0)} MB, ${rows} rows; accepted ${last.accepted}, quarantined ${last.quarantined}, records ${last.records}`);
    const out: Measure[] = [
      {
        name: `ingest ${rows / 1e6}M rows (${(bytes / 1e6).toFixed(0)} MB)`,
        unit: 'MB/s',
        ours: bytes / 1e6 / t.ours,
        anchor: bytes / 1e6 / t.anchor,
        anchorName: 'bare DuckDB read → Parquet',
        goal: 0.6,
        notes: { ours_s: t.oursRuns.map((x) => x.toFixed(2)).join('/'), bare_s: t.anchorRuns.map((x) => x.toFixed(2)).join('/'), peak_rss_mb: (peak / 2 ** 20).toFixed(0), quarantined: last.quarantined },
      },
    ];
    if (process.argv.includes('--big')) {
      const bigRows = 57_000_000;
      const big = await impressionsCsv(join(ctx.dir, 'gen'), bigRows);
      const dir = join(ctx.dir, 'project-big');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      Project.init(dir);
      const project = await Project.open(dir, { threads: 2 });
      const bp = definePipeline({ ...p, sources: [{ ...p.sources[0]!, files: big.path }] });
      const runner = new LocalRunner(await project.duck(), project.catalog);
      const t0 = performance.now();
      const r = await peakRss(() => curate(project, bp, ctx.dir, runner));
      const secs = (performance.now() - t0) / 1000;
      await project.close();
      rmSync(dir, { recursive: true, force: true });
      ctx.log(`big: ${(big.bytes / 1e9).toFixed(2)} GB in ${secs.toFixed(0)} s, peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MB (goal < 2048 MB), accepted ${r.value.stats[0]!.accepted}`);
    }
    return out;
  },
};
