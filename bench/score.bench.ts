// Benchmark `score`: an MLP 32→64→1 (24 candidate features, 8 context features) scores every
// candidate against 10 contexts, end to end from a Parquet dataset to a top-100-per-context Parquet
// version, ranked by `bid * score`; our run is a child process so its peak RSS (VmHWM) is its own.
// The child scores twice: the cold run (fresh process) is printed, the warm one is the figure, as the
// anchor's session is created and its tensors built before its clock starts.
// Anchor in the same run: bare ONNX Runtime over one prebuilt [8192, 32] tensor, run as many times
// as there are pairs, same model, batch size and threads. Goal: ≥ 0.6 of the anchor; RSS < 2 GB.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { Project } from '../src/core/project.ts';
import { lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { sessionOptions } from '../src/model/backends/onnx.ts';
import { encodeModel, mlpModel, mlpWeights } from '../src/model/onnx/build.ts';
import { addModel } from '../src/model/registry.ts';
import { median, type Bench, type Measure } from './lib.ts';

const C = Array.from({ length: 24 }, (_, j) => `c${j}`);
const U = Array.from({ length: 8 }, (_, j) => `u${j}`);
const BATCH = 8192;
const THREADS = 2;
const CONTEXTS = 10;
const K = 100;

export const bench: Bench = {
  name: 'score: MLP 32→64→1, candidates × 10 contexts → top 100 per context',
  async run({ dir, repeats, quick, log }): Promise<Measure[]> {
    // The issue's size: 10M candidates against 10 contexts (100M pairs); --quick: 100k.
    const candidates = quick ? 100_000 : 10_000_000;
    const pairs = candidates * CONTEXTS;
    const root = join(dir, 'project');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    Project.init(root, 'bench-score');
    const project = await Project.open(root, { threads: THREADS });
    const duck = await project.duck();
    const ads = join(dir, `ads-${candidates}.parquet`);
    const users = join(dir, 'users.parquet');
    await duck.run(`COPY (SELECT 'ad' || range AS ad_id, ${C.map((c) => `random()::FLOAT AS ${c}`).join(', ')}, (random() * 2)::DOUBLE AS bid FROM range(${candidates})) TO ${lit(ads)} (FORMAT parquet)`);
    await duck.run(`COPY (SELECT 'user' || range AS user_id, ${U.map((u) => `random()::FLOAT AS ${u}`).join(', ')} FROM range(${CONTEXTS})) TO ${lit(users)} (FORMAT parquet)`);
    const runner = new LocalRunner(duck, project.catalog);
    await importFiles(project, { name: 'ads', files: [ads] }, runner);
    await importFiles(project, { name: 'users', files: [users] }, runner);
    const modelFile = join(dir, 'mlp.onnx');
    writeFileSync(modelFile, encodeModel(mlpModel(mlpWeights([32, 64, 1], 7))));
    await addModel(project, { file: modelFile, name: 'mlp', features: { inputs: [{ name: 'x', features: [...C, ...U].map((number) => ({ number })) }] } });
    await project.close();
    log(`${candidates.toLocaleString()} candidates × ${CONTEXTS} contexts = ${pairs.toLocaleString()} pairs, batch ${BATCH}, threads ${THREADS}, top ${K}`);

    // The anchor's session options are the ones sluice's sessions use (sessionOptions, spinning off
    // included), on the model file as registered (no graph changes), the same batch size and threads.
    const session = await ort.InferenceSession.create(modelFile, sessionOptions(THREADS));
    const x = new ort.Tensor('float32', Float32Array.from({ length: BATCH * 32 }, () => Math.random()), [BATCH, 32]);
    const bareOrt = async () => {
      for (let done = 0; done < pairs; done += BATCH) await session.run({ x });
    };
    for (let i = 0; i < 20; i++) await session.run({ x }); // warm, like our warm run
    const run = promisify(execFile);
    const child = async (i: number) => {
      const { stdout } = await run(process.execPath, [resolve('bin/run-ts.js'), resolve('bench/score-child.ts'), root, `top-${i}`, String(THREADS), String(K)], { maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { cold: number; warm: number; warm_cpu_s: number; pairs: number; rows: number; peak_rss_kb: number };
      if (r.pairs !== pairs || r.rows !== CONTEXTS * K) throw new Error(`score run gave ${r.pairs} pairs and ${r.rows} rows, expected ${pairs} and ${CONTEXTS * K}`);
      return r;
    };
    const a: number[] = [];
    const o: number[] = [];
    const cold: number[] = [];
    const cpuOurs: number[] = [];
    const cpuAnchor: number[] = [];
    let rss = 0;
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      const cu = process.cpuUsage();
      await bareOrt();
      a.push((performance.now() - t) / 1000);
      const d = process.cpuUsage(cu);
      cpuAnchor.push((d.user + d.system) / 1e6);
      const r = await child(i);
      o.push(r.warm);
      cold.push(r.cold);
      cpuOurs.push(r.warm_cpu_s);
      rss = Math.max(rss, r.peak_rss_kb * 1024);
      log(`repeat ${i + 1}: bare ORT ${a.at(-1)!.toFixed(2)} s, sluice score ${r.warm.toFixed(2)} s warm (${r.warm_cpu_s.toFixed(2)} CPU-s vs ${cpuAnchor.at(-1)!.toFixed(2)}), ${r.cold.toFixed(2)} s cold (child peak RSS ${Math.round(r.peak_rss_kb / 1024)} MB)`);
    }
    await session.release();
    return [
      {
        name: `score ${pairs.toLocaleString()} pairs (Parquet → top ${K} per context version)`,
        unit: 'pairs/s',
        ours: pairs / median(o),
        anchor: pairs / median(a),
        anchorName: 'bare ONNX Runtime over prebuilt tensors',
        goal: 0.6,
        notes: { cpu_s_ours: +median(cpuOurs).toFixed(2), cpu_s_anchor: +median(cpuAnchor).toFixed(2), cold_pairs_s: Math.round(pairs / median(cold)), cold_ratio: +(median(a) / median(cold)).toFixed(2), peak_rss_mb: Math.round(rss / 2 ** 20), rss_goal: rss < 2 * 2 ** 30 ? 'MET(<2GB)' : 'MISSED(>=2GB)' },
      },
    ];
  },
};
