// Benchmark `train`: the baseline trainer's MLP 32→64→1 (mini-batch Adam, batch 256, one JS
// thread) in examples per second per epoch, beside a bare ONNX Runtime forward pass of the same
// trained model over the same tensors (batch 8192, one intra-op thread, like for like with the
// trainer's one thread; the two-thread figure is printed too). Training does forward, backward and
// an update per example, so the ratio says how far a TypeScript trainer sits from inference speed.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Project } from '../src/core/project.ts';
import { parseRef } from '../src/core/ref.ts';
import { lit } from '../src/engine/duckdb.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { importFiles } from '../src/io/import.ts';
import { loadModel } from '../src/model/registry.ts';
import { binaryClasses, loadSet } from '../src/model/train/data.ts';
import { trainBaseline } from '../src/model/train/train.ts';
import { median, type Bench, type Measure } from './lib.ts';

const F = Array.from({ length: 32 }, (_, j) => `f${j}`);
const ORT_BATCH = 8192;

export const bench: Bench = {
  name: 'train: baseline MLP 32→64→1, examples/s per epoch vs a bare ONNX Runtime forward pass',
  async run({ dir, repeats, quick, log }): Promise<Measure[]> {
    const rows = quick ? 200_000 : 1_000_000;
    const epochs = quick ? 2 : 3;
    const root = join(dir, 'project');
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    Project.init(root, 'bench-train');
    const project = await Project.open(root, { threads: 2 });
    const duck = await project.duck();
    // 32 uniform features; the label follows a fixed linear rule through a sigmoid (not timed)
    const file = join(dir, `train-${rows}.parquet`);
    const rule = F.map((f, j) => `${((j % 7) - 3) / 2} * (${f} - 0.5)`).join(' + ');
    await duck.run(`COPY (SELECT *, (random() < 1 / (1 + exp(-(${rule}))))::INTEGER AS y FROM (SELECT ${F.map((f) => `random()::FLOAT AS ${f}`).join(', ')} FROM range(${rows}))) TO ${lit(file)} (FORMAT parquet)`);
    await importFiles(project, { name: 'train', files: [file] }, new LocalRunner(duck, project.catalog));
    const features = { inputs: [{ name: 'x', features: F.map((f) => ({ number: f })) }] };
    log(`${rows.toLocaleString()} rows × 32 features, ${epochs} epochs per run, batch 256`);

    const perEpoch: number[] = [];
    const endToEnd: number[] = [];
    let model = '';
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      const r = await trainBaseline(project, { baseline: 'mlp', features, data: 'train@1', label: 'y', hidden: 64, epochs, batchSize: 256, seed: i, classWeights: 'none', name: 'mlp' });
      const total = (performance.now() - t) / 1000;
      perEpoch.push(...r.history.map((h) => rows / h.seconds));
      endToEnd.push((rows * epochs) / total);
      model = r.model;
      log(`repeat ${i + 1}: epochs ${r.history.map((h) => h.seconds.toFixed(2) + ' s').join(', ')}; end to end (read, freeze, train, export, register) ${total.toFixed(2)} s; train AUC ${r.metrics.auc.toFixed(3)}`);
    }

    // the anchor: the trained model in ONNX Runtime over the same feature tensors, prebuilt
    const m = await loadModel(project, model);
    const data = await project.catalog.resolve(parseRef('train@1'));
    const set = await loadSet(project, data, m.meta.features!, 'y', await binaryClasses(project, data, 'y'));
    const forward = async (threads: number) => {
      const s = await ort.InferenceSession.create(m.path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      const tensors: ort.Tensor[] = [];
      for (let at = 0; at < set.rows; at += ORT_BATCH) {
        const n = Math.min(ORT_BATCH, set.rows - at);
        tensors.push(new ort.Tensor('float32', set.x.subarray(at * 32, (at + n) * 32), [n, 32]));
      }
      const runs: number[] = [];
      for (let i = 0; i < Math.max(3, repeats); i++) {
        const t = performance.now();
        for (const x of tensors) await s.run({ x });
        runs.push(set.rows / ((performance.now() - t) / 1000));
      }
      await s.release();
      return median(runs);
    };
    const ort1 = await forward(1);
    const ort2 = await forward(2);
    clearInterval(sampler);
    const rss = Math.max(peak, process.memoryUsage.rss());
    await project.close();
    return [
      {
        name: `train MLP 32→64→1 on ${rows.toLocaleString()} rows (examples/s per epoch)`,
        unit: 'examples/s',
        ours: median(perEpoch),
        anchor: ort1,
        anchorName: 'bare ONNX Runtime forward, 1 thread',
        notes: {
          bare_ort_2_threads: Math.round(ort2),
          end_to_end_examples_s: Math.round(median(endToEnd)),
          peak_rss_mb: Math.round(rss / 2 ** 20),
        },
      },
    ];
  },
};
