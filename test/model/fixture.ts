// Test fixtures for models: a project in its own temp folder, datasets from SQL, ONNX models
// written with onnx-proto, and a plain-JS reference MLP to check ONNX Runtime's answers against.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { importFiles } from '../../src/io/import.ts';
import { encodeModel, mlpModel, type MlpWeights } from '../../src/model/onnx/build.ts';

export interface Fixture {
  dir: string;
  project: Project;
  runner: LocalRunner;
  /** imports one Parquet file per SQL query as a dataset (one part per query) */
  dataset(name: string, ...queries: string[]): Promise<Manifest>;
  /** writes an ONNX model file into the temp folder */
  onnxFile(name: string, bytes: Uint8Array): string;
  close(): Promise<void>;
}

export async function fixture(threads = 1): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-model-'));
  Project.init(dir, 'model-test');
  const project = await Project.open(dir, { threads });
  const runner = new LocalRunner(await project.duck(), project.catalog);
  let files = 0;
  return {
    dir,
    project,
    runner,
    async dataset(name, ...queries) {
      const duck = await project.duck();
      const paths: string[] = [];
      for (const q of queries) {
        const path = join(dir, `in-${files++}-${name}.parquet`);
        await duck.run(`COPY (${q}) TO ${lit(path)} (FORMAT parquet)`);
        paths.push(path);
      }
      return importFiles(project, { name, files: paths }, runner);
    },
    onnxFile(name, bytes) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    },
    async close() {
      await project.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * MLP weights that are small dyadic fractions, so every sum ONNX Runtime and the reference form is
 * exact in float32 whatever the summation order: outputs can be compared for equality.
 */
export function dyadicMlp(sizes: [number, number, number]): MlpWeights {
  const [i, h, o] = sizes;
  const f = (n: number, salt: number) => Float32Array.from({ length: n }, (_, k) => (((k * 7 + salt) % 9) - 4) / 8);
  return { w1: f(i * h, 1), b1: f(h, 2), w2: f(h * o, 3), b2: f(o, 4), sizes };
}

/** The MLP without a final activation, computed in float64 then rounded once (exact for dyadic weights). */
export function referenceMlp(w: MlpWeights, x: ArrayLike<number>): number[] {
  const [i, h, o] = w.sizes;
  const hidden = Array.from({ length: h }, (_, j) => {
    let s = w.b1[j]!;
    for (let k = 0; k < i; k++) s += x[k]! * w.w1[k * h + j]!;
    return Math.max(0, s);
  });
  return Array.from({ length: o }, (_, j) => {
    let s = w.b2[j]!;
    for (let k = 0; k < h; k++) s += hidden[k]! * w.w2[k * o + j]!;
    return Math.fround(s);
  });
}

export const linearMlpFile = (fx: Fixture, w: MlpWeights, name = 'mlp.onnx') => fx.onnxFile(name, encodeModel(mlpModel(w, { input: 'x', output: 'y' }, 'none')));
