// Test fixtures for the server: a project with a model `ctr` whose feature spec reads raw fields
// (four numbers and a hashed category), written with onnx-proto; versions differ by their weights
// so an answer tells which version made it; and a server started on a free loopback port.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { encodeModel, mlpModel, type MlpWeights } from '../../src/model/onnx/build.ts';
import { addModel } from '../../src/model/registry.ts';
import type { FeatureSpecInput } from '../../src/model/features/spec.ts';
import type { PredictionRecord } from '../../src/feedback/records.ts';
import type { PredictionSink } from '../../src/serve/predict.ts';
import { startServer, type ServeOptions, type SluiceServer } from '../../src/serve/server.ts';

export const SPEC: FeatureSpecInput = {
  inputs: [
    {
      name: 'x',
      features: [{ number: 'price', fill: 0 }, { number: 'age', fill: 30, clip: [0, 100] }, { number: 'clicks', fill: 0 }, { category: 'country', hash: { buckets: 4 }, encode: 'id' }],
    },
  ],
};

/** An MLP 4→8→1 without activation whose weights are dyadic and scaled by `version`. */
export function weights(version: number): MlpWeights {
  const f = (n: number, salt: number) => Float32Array.from({ length: n }, (_, k) => ((((k * 7 + salt) % 9) - 4) / 8) * version);
  return { w1: f(32, 1), b1: f(8, 2), w2: f(8, 3), b2: f(1, 4), sizes: [4, 8, 1] };
}

export interface ServeFixture {
  dir: string;
  project: Project;
  /** adds the next version of `ctr` (weights scaled by its number, or by `scale`) */
  addVersion(scale?: number, name?: string): Promise<number>;
  close(): Promise<void>;
}

export async function serveFixture(versions = 1): Promise<ServeFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-'));
  Project.init(dir, 'serve-test');
  const project = await Project.open(dir, { threads: 1 });
  let n = 0;
  const fx: ServeFixture = {
    dir,
    project,
    async addVersion(scale, name = 'ctr') {
      n++;
      const file = join(dir, `m${n}.onnx`);
      writeFileSync(file, encodeModel(mlpModel(weights(scale ?? n), { input: 'x', output: 'y' }, 'none')));
      return (await addModel(project, { file, name, features: SPEC })).meta.version;
    },
    async close() {
      await project.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < versions; i++) await fx.addVersion();
  return fx;
}

export function serve(fx: ServeFixture, o: Partial<ServeOptions> = {}): Promise<SluiceServer> {
  return startServer({ project: fx.project, model: 'ctr', port: 0, batch: { maxBatch: 64, maxDelayUs: 500, queueLimit: 1024 }, timeoutMs: 5000, ...o });
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** A sink that keeps records in memory, for tests about which records are made (the log tests use real logs). */
export function memorySink(): PredictionSink & { records: PredictionRecord[] } {
  const records: PredictionRecord[] = [];
  return {
    records,
    write: (r) => void records.push(r),
    stats: () => ({ buffered: 0, spilled: 0, appended: records.length, appendFailures: 0 }),
    flush: async () => {},
    close: async () => {},
  };
}

/** Polls `cond` every 20 ms until it holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
