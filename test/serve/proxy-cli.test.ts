// Proxy mode (sluice's batching, feature spec, logging and A/B in front of another model server:
// a second sluice server over v2, and a TF Serving-style server) and the `sluice serve` command end
// to end: it starts, answers, logs to the project's prediction log and stops on SIGTERM.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PredictionRecord } from '../../src/feedback/records.ts';
import { projectLog } from '../../src/log/open.ts';
import { startModelServer } from '../model/model-server.ts';
import { TfClient } from './client.ts';
import { memorySink, post, serve, serveFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
const rows = Array.from({ length: 12 }, (_, i) => ({ price: i / 2, age: 20 + i, clicks: i % 3, country: ['de', 'fr', 'us'][i % 3] }));

beforeAll(async () => {
  fx = await serveFixture(1);
});
afterAll(async () => {
  await fx.close();
});

describe('proxy mode', () => {
  test('in front of a second sluice server (v2), answers equal the backend’s own and are logged by the proxy', async () => {
    const backend = await serve(fx);
    const log = memorySink();
    const proxy = await serve(fx, { backend: { url: backend.url, protocol: 'v2' }, log, batch: { maxBatch: 8, maxDelayUs: 2000, queueLimit: 1024 } });
    try {
      const direct = await new TfClient(backend.url).predict('ctr', rows);
      const viaProxy = await Promise.all(rows.map((r) => new TfClient(proxy.url).predict('ctr', [r])));
      expect(viaProxy.map((r) => r.body.predictions[0])).toEqual(direct.body.predictions);
      expect(log.records.map((r) => r.prediction_id).sort()).toEqual(viaProxy.map((r) => r.body.prediction_ids[0]).sort());
      // The backend saw the proxy's batches as v2 requests: fewer calls than requests, every row once.
      const snap = backend.metrics.batchSize.snapshot({ version: 'ctr@1' });
      expect(snap.sum).toBe(12 + 12 + 1); // the direct call, the proxied rows, the proxy's warm-up row
      expect(backend.metrics.requests.get({ route: 'v2', code: '200' })).toBeLessThan(13);
    } finally {
      await proxy.close();
      await backend.close();
    }
  });

  test('in front of a TF Serving-style endpoint, with the feature spec applied by the proxy', async () => {
    const tf = await startModelServer(join(fx.dir, 'models', 'ctr', '1', 'model.onnx'), 'ctr');
    const plain = await serve(fx);
    const proxy = await serve(fx, { backend: { url: tf.url, protocol: 'tfserving' } });
    try {
      const viaProxy = await new TfClient(proxy.url).predict('ctr', rows);
      const inProcess = await new TfClient(plain.url).predict('ctr', rows);
      expect(viaProxy.body.predictions).toEqual(inProcess.body.predictions);
      expect(tf.batchRows.reduce((a, b) => a + b, 0)).toBe(13); // warm-up row + 12
    } finally {
      await proxy.close();
      await plain.close();
      await tf.close();
    }
  });
});

describe('sluice serve', () => {
  test('a bad --ab split exits 2 and says how to write it', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/sluice.js'), '--project', fx.dir, 'serve', '--model', 'ctr', '--ab', 'ctr@1=0.5,ctr@2=0.4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--ab: the ratios add up to 0.9, not 1');
    expect(stderr).toContain('e.g. --ab ctr@1=0.9,ctr@2=0.1');
  });

  test('starts on loopback, answers, logs each prediction to the project log and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/sluice.js'), '--project', fx.dir, '--json', 'serve', '--model', 'ctr', '--port', '0', '--watch-ms', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout });
    let text = '';
    const started = await new Promise<{ url: string; serving: string[]; token: string; log: string }>((resolve, reject) => {
      lines.on('line', (l) => {
        text += l;
        try {
          resolve(JSON.parse(text));
        } catch {
          // the JSON spans several lines
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.serving).toEqual(['ctr@1']);
    expect(started.log).toBe('file');
    const r = await post(`${started.url}/v1/models/ctr:predict`, { instances: rows });
    expect(r.status).toBe(200);
    expect((await post(`${started.url}/admin/reload`, {}, { authorization: `Bearer ${started.token}` })).status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    const log = await projectLog<PredictionRecord>(fx.project, 'predictions');
    try {
      const entries = await log.read(0, { max: 1000 });
      expect(entries.flatMap((e) => e.records.map((x) => x.prediction_id))).toEqual(r.json.prediction_ids);
    } finally {
      await log.close();
    }
  });
});
