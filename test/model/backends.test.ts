// Model backends: in-process ONNX Runtime against a JS reference, and the remote backend (Open
// Inference Protocol v2, TF Serving :predict) against a real HTTP server running ONNX Runtime:
// batching, a concurrency limit, retries on 503, timeouts, and garbage answers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OnnxBackend, checkSignature } from '../../src/model/backends/onnx.ts';
import { RemoteBackend } from '../../src/model/backends/remote.ts';
import { RemoteAnswerError } from '../../src/model/backends/backend.ts';
import { RetryableError } from '../../src/core/errors.ts';
import { sha256File } from '../../src/core/hash.ts';
import { readSignatureFile } from '../../src/model/onnx/inspect.ts';
import { compileSpec } from '../../src/model/features/compile.ts';
import { type Fixture, dyadicMlp, fixture, linearMlpFile, referenceMlp } from './fixture.ts';
import { type ModelServer, startModelServer } from './model-server.ts';

const W = dyadicMlp([32, 64, 1]);
const ROWS = 50;
const input = Float32Array.from({ length: ROWS * 32 }, (_, k) => (((k * 5) % 11) - 5) / 4);
const expected = Array.from({ length: ROWS }, (_, r) => referenceMlp(W, input.subarray(r * 32, (r + 1) * 32))[0]!);
const x = { x: { type: 'float32' as const, data: input, dims: [ROWS, 32] } };

let fx: Fixture;
let file: string;
let server: ModelServer;
beforeEach(async () => {
  fx = await fixture();
  file = linearMlpFile(fx, W);
  server = await startModelServer(file, 'mlp');
});
afterEach(async () => {
  await server.close();
  await fx.close();
});

describe('ONNX Runtime in process', () => {
  it('scores a batch exactly as the JS reference MLP does', async () => {
    const b = await OnnxBackend.open(file, await sha256File(file), 1);
    const out = await b.run(x);
    expect(Array.from(out.y!.data as Float32Array)).toEqual(expected);
    expect(out.y!.dims).toEqual([ROWS, 1]);
  });
  it('takes a feature-major tensor through the Transpose it puts in front of the graph', async () => {
    const cols = new Float32Array(ROWS * 32);
    for (let r = 0; r < ROWS; r++) for (let j = 0; j < 32; j++) cols[j * ROWS + r] = input[r * 32 + j]!;
    const b = await OnnxBackend.open(file, await sha256File(file), 1, ['y'], ['x']);
    const out = await b.run({ x: { type: 'float32', data: cols, dims: [32, ROWS], layout: 'columns' } });
    expect(Array.from(out.y!.data as Float32Array)).toEqual(expected);
  });
  it('refuses a feature spec whose inputs do not match the model, listing every mismatch', () => {
    const spec = compileSpec({ inputs: [{ name: 'features', features: [{ number: 'a' }, { number: 'b' }] }] });
    expect(() => checkSignature(readSignatureFile(file), spec.inputs, 'model m@1')).toThrow(
      'model m@1: the model does not match its feature spec:\n  - the spec feeds input "features", the model has none (it has x)\n  - the model needs input "x", the spec does not make it',
    );
    const narrow = compileSpec({ inputs: [{ name: 'x', features: [{ number: 'a' }, { number: 'b' }] }] });
    expect(() => checkSignature(readSignatureFile(file), narrow.inputs, 'model m@1')).toThrow('input x: the model expects shape [N, 32], the spec makes [N, 2]');
    const ints = compileSpec({ inputs: [{ name: 'x', dtype: 'int64', features: [{ category: 'c', hash: { buckets: 4 } }] }] });
    expect(() => checkSignature(readSignatureFile(file), ints.inputs, 'model m@1')).toThrow('input x: the model expects float32, the spec makes int64');
  });
});

describe('remote model server', () => {
  for (const protocol of ['v2', 'tfserving'] as const) {
    it(`${protocol}: splits a batch into requests of maxBatch rows, at most 2 in flight, and returns the rows in order`, async () => {
      server.faults.delayMs = 30;
      const b = new RemoteBackend({ url: server.url, protocol, model: 'mlp', outputs: [{ name: 'y', width: 1 }], maxBatch: 8, concurrency: 2 });
      const out = await b.run(x, ROWS);
      expect(Array.from(out.y!.data as Float32Array)).toEqual(expected);
      expect(server.batchRows).toEqual([8, 8, 8, 8, 8, 8, 2].slice(0, server.batchRows.length));
      expect(server.batchRows.reduce((a, c) => a + c, 0)).toBe(ROWS);
      expect(server.maxInFlight).toBe(2);
    });
  }
  it('retries a 503 and then succeeds', async () => {
    server.faults.unavailable = 2;
    const b = new RemoteBackend({ url: server.url, protocol: 'v2', model: 'mlp', outputs: [{ name: 'y', width: 1 }], maxBatch: 100 });
    const out = await b.run(x, ROWS);
    expect(Array.from(out.y!.data as Float32Array)).toEqual(expected);
    expect(b.requests).toBe(3);
  });
  it('gives up with a RetryableError when every attempt times out', async () => {
    server.faults.delayMs = 500;
    const b = new RemoteBackend({ url: server.url, protocol: 'v2', model: 'mlp', outputs: [{ name: 'y', width: 1 }], maxBatch: 100, timeoutMs: 100, retries: 1 });
    const err = await b.run(x, ROWS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toBe(`v2:${server.url}: gave up after 2 attempts: no answer within 100 ms`);
  });
  it('calls a garbage answer a RemoteAnswerError that names what is wrong', async () => {
    const b = new RemoteBackend({ url: server.url, protocol: 'v2', model: 'mlp', outputs: [{ name: 'y', width: 1 }], maxBatch: 100 });
    server.faults.garbage = 'text';
    const notJson = await b.run(x, ROWS).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(RemoteAnswerError);
    expect((notJson as Error).message).toBe(`v2:${server.url}: the answer is not JSON: "<html>oops"`);
    server.faults.garbage = 'short';
    const short = await b.run(x, ROWS).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(RemoteAnswerError);
    expect((short as Error).message).toBe(`v2:${server.url}: output y: 2 values for 50 expected`);
  });
});

describe('batch inference on a remote server', () => {
  it('dead-letters the rows of a request the server answered with garbage, and scores them when it answers properly', async () => {
    const { addModel } = await import('../../src/model/registry.ts');
    const { runInference } = await import('../../src/model/infer/plan.ts');
    const { scanSql } = await import('../../src/core/dataset.ts');
    const F = Array.from({ length: 32 }, (_, j) => `f${j}`);
    await fx.dataset('pool', `SELECT range AS k, ${F.map((f, j) => `(((range + ${j}) % 5) / 4)::FLOAT AS ${f}`).join(', ')} FROM range(20)`);
    await addModel(fx.project, { file, name: 'mlp', features: { inputs: [{ name: 'x', features: F.map((f) => ({ number: f })) }] } });
    server.faults.garbage = 'short';
    const bad = await runInference(fx.project, { model: 'mlp', data: 'pool', output: 'bad', batchSize: 8, remote: { url: server.url, protocol: 'v2', maxBatch: 8 } }, fx.runner);
    expect(bad.manifest.rows).toBe(0);
    expect(bad.deadletter?.rows).toBe(20);
    const duck = await fx.project.duck();
    const reasons = await duck.all<{ _reason: string }>(`SELECT DISTINCT _reason FROM (${scanSql(fx.project.dataDir, bad.deadletter!)}) ORDER BY 1`);
    expect(reasons.map((r) => r._reason)).toEqual([`v2:${server.url}: output y: 2 values for 4 expected`, `v2:${server.url}: output y: 2 values for 8 expected`]);
    server.faults.garbage = false;
    const good = await runInference(fx.project, { model: 'mlp', data: 'pool', output: 'good', batchSize: 8, remote: { url: server.url, protocol: 'tfserving', maxBatch: 8 } }, fx.runner);
    expect(good.manifest.rows).toBe(20);
    expect(good.deadletter).toBeNull();
    const ys = await duck.all<{ k: number; y: number }>(`SELECT k, y FROM (${scanSql(fx.project.dataDir, good.manifest)}) ORDER BY k`);
    expect(ys.map((r) => r.y)).toEqual(ys.map((r) => referenceMlp(W, F.map((_, j) => ((r.k + j) % 5) / 4))[0]));
  });
});
