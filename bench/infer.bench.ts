// Benchmark `infer`: the mining path (every row read once, scored once). An MLP 32→64→1 scores a
// Parquet dataset into a new version through `runInference`; in the same run, with the same
// threads: (a) bare ONNX Runtime over prebuilt tensors at the same batch size, (b) a bare DuckDB
// scan of the same 32 columns into Float32Arrays. Goal: ≥ 0.5 of the slower anchor; peak RSS < 2 GB.
// A naive path is printed too: DuckDB rows as JS values (`DuckSession.batches`), one row at a time
// into the tensor (no pure-JS Parquet reader is installed, so this is the naive stand-in).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Project } from '../src/core/project.ts';
import { DuckSession, lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { encodeModel, mlpModel, mlpWeights } from '../src/model/onnx/build.ts';
import { addModel } from '../src/model/registry.ts';
import { runInference } from '../src/model/infer/plan.ts';
import { median, type Bench, type Measure } from './lib.ts';

const F = Array.from({ length: 32 }, (_, j) => `f${j}`);
const BATCH = 8192;
const THREADS = 2;

export const bench: Bench = {
  name: 'infer: MLP 32→64→1 over Parquet → output version',
  async run({ dir, repeats, quick, log }): Promise<Measure[]> {
    const files = quick ? 2 : 10;
    const perFile = 1_000_000;
    const rows = files * perFile;
    const root = join(dir, 'project');
    const modelFile = join(dir, 'mlp.onnx');
    // Data: one Parquet file per million rows of random floats, imported once (not timed).
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    Project.init(root, 'bench-infer');
    const project = await Project.open(root, { threads: THREADS });
    const duck = await project.duck();
    const paths: string[] = [];
    for (let i = 0; i < files; i++) {
      const p = join(dir, `pool-${i}.parquet`);
      if (!existsSync(p)) await duck.run(`COPY (SELECT range AS k, ${F.map((f) => `random()::FLOAT AS ${f}`).join(', ')} FROM range(${i * perFile}, ${(i + 1) * perFile})) TO ${lit(p)} (FORMAT parquet)`);
      paths.push(p);
    }
    const runner = new LocalRunner(duck, project.catalog);
    await importFiles(project, { name: 'pool', files: paths }, runner);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(modelFile, encodeModel(mlpModel(mlpWeights([32, 64, 1], 7))));
    await addModel(project, { file: modelFile, name: 'mlp', features: { inputs: [{ name: 'x', features: F.map((f) => ({ number: f })) }] } });
    log(`${rows.toLocaleString()} rows in ${files} parts, batch ${BATCH}, threads ${THREADS}`);

    // (a) bare ONNX Runtime over a prebuilt batch, the same session options as the backend.
    const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const x = new ort.Tensor('float32', Float32Array.from({ length: BATCH * 32 }, () => Math.random()), [BATCH, 32]);
    const bareOrt = async () => {
      for (let done = 0; done < rows; done += BATCH) await session.run({ x });
    };
    // (b) bare DuckDB: stream the 32 columns of every file, each column vector copied into a Float32Array.
    const bareScan = async () => {
      const s = await DuckSession.open({ threads: THREADS });
      try {
        const cols = F.map(() => new Float32Array(2048));
        const r = await s.conn.stream(`SELECT ${F.join(', ')} FROM read_parquet([${paths.map(lit).join(', ')}])`);
        for (;;) {
          const ch = await r.fetchChunk();
          if (!ch || ch.rowCount === 0) break;
          for (let j = 0; j < 32; j++) cols[j]!.set((ch.getColumnVector(j) as unknown as { items: Float32Array }).items);
        }
      } finally {
        s.close();
      }
    };
    let n = 0;
    const ours = async () => {
      const out = `scored-${n++}`;
      const { manifest } = await runInference(project, { model: 'mlp@1', data: 'pool@1', output: out, batchSize: BATCH, keep: [] }, runner);
      if (manifest.rows !== rows) throw new Error(`scored ${manifest.rows} rows, expected ${rows}`);
    };
    const time = async (fn: () => Promise<void>) => {
      const t = performance.now();
      await fn();
      return (performance.now() - t) / 1000;
    };
    const a: number[] = [];
    const b: number[] = [];
    const o: number[] = [];
    for (let i = 0; i < repeats; i++) {
      a.push(await time(bareOrt));
      b.push(await time(bareScan));
      o.push(await time(ours));
      log(`repeat ${i + 1}: bare ORT ${a.at(-1)!.toFixed(2)} s, bare DuckDB scan ${b.at(-1)!.toFixed(2)} s, sluice infer ${o.at(-1)!.toFixed(2)} s`);
    }
    // Naive path, once, on the first million rows only (it is slow).
    const naiveRows = Math.min(rows, 1_000_000);
    const naive = await time(async () => {
      const buf = new Float32Array(BATCH * 32);
      let filled = 0;
      for await (const batch of duck.batches(`SELECT ${F.join(', ')} FROM read_parquet(${lit(paths[0]!)}) LIMIT ${naiveRows}`)) {
        for (let i = 0; i < batch.rowCount; i++) {
          for (let j = 0; j < 32; j++) buf[filled * 32 + j] = batch.columns[j]![i] as number;
          if (++filled === BATCH) {
            await session.run({ x: new ort.Tensor('float32', buf, [BATCH, 32]) });
            filled = 0;
          }
        }
      }
    });
    clearInterval(sampler);
    const rate = (s: number) => rows / s;
    const ortRate = rate(median(a));
    const scanRate = rate(median(b));
    const oursRate = rate(median(o));
    const slower = Math.min(ortRate, scanRate);
    const rss = Math.max(peak, process.memoryUsage.rss());
    await session.release();
    await project.close();
    return [
      {
        name: `infer ${rows.toLocaleString()} rows (Parquet → scored version)`,
        unit: 'rows/s',
        ours: oursRate,
        anchor: slower,
        anchorName: scanRate <= ortRate ? 'bare DuckDB scan (slower anchor)' : 'bare ONNX Runtime (slower anchor)',
        goal: 0.5,
        notes: {
          bare_ort_rows_s: Math.round(ortRate),
          bare_scan_rows_s: Math.round(scanRate),
          ours_vs_ort: +(oursRate / ortRate).toFixed(2),
          naive_rows_s: Math.round(naiveRows / naive),
          peak_rss_mb: Math.round(rss / 2 ** 20),
          rss_goal: rss < 2 * 2 ** 30 ? 'MET(<2GB)' : 'MISSED(>=2GB)',
        },
      },
    ];
  },
};
