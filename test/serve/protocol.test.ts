// Protocol conformance: the v2 and TF Serving routes answer the shapes their documents define
// (checked by test/serve/client.ts), with the values the same model and feature spec give in
// batch inference, and ranked answers sort candidates by score.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileSpec } from '../../src/model/features/compile.ts';
import type { SluiceServer } from '../../src/serve/server.ts';
import { referenceMlp } from '../model/fixture.ts';
import { TfClient, V2Client } from './client.ts';
import { post, serve, serveFixture, SPEC, weights, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
let s: SluiceServer;
const spec = compileSpec(SPEC);

/** What batch inference gives for one raw row: the compiled spec's tensor through the reference MLP. */
async function expected(row: Record<string, unknown>, version = 1): Promise<number> {
  const t = await spec.row(row);
  return referenceMlp(weights(version), t.x as Float32Array)[0]!;
}

beforeAll(async () => {
  fx = await serveFixture(1);
  s = await serve(fx);
});
afterAll(async () => {
  await s.close();
  await fx.close();
});

describe('Open Inference Protocol v2', () => {
  test('health live and ready answer 200', async () => {
    const c = new V2Client(s.url);
    expect((await c.live()).status).toBe(200);
    expect((await c.ready()).status).toBe(200);
  });

  test('model metadata names the inputs and outputs with v2 datatypes and shapes', async () => {
    const m = await new V2Client(s.url).metadata('ctr');
    expect(m).toMatchObject({ name: 'ctr', versions: ['1'], inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }] });
    expect((await new V2Client(s.url).metadata('ctr', '1')).name).toBe('ctr');
  });

  test('infer takes flat or nested data, echoes the id and returns one output row per input row', async () => {
    const c = new V2Client(s.url);
    const rows = [[1, 20, 3, 2], [0.5, 40, 0, 1], [2, 30, 1, 0]];
    const flat = await c.infer('ctr', { id: 'req-1', inputs: [{ name: 'x', shape: [3, 4], datatype: 'FP32', data: rows.flat() }] });
    const nested = await c.infer('ctr', { inputs: [{ name: 'x', shape: [3, 4], datatype: 'FP32', data: rows }] }, '1');
    expect(flat.status).toBe(200);
    expect(flat.body).toMatchObject({ model_name: 'ctr', model_version: '1', id: 'req-1' });
    expect(flat.body.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [3, 1], data: rows.map((r) => referenceMlp(weights(1), r)[0]) }]);
    expect(nested.body.outputs).toEqual(flat.body.outputs);
    expect(nested.body.id).toBeUndefined();
    expect(flat.body.parameters.prediction_ids).toHaveLength(3);
  });

  test('an unknown model or version answers 404 with an error object', async () => {
    const c = new V2Client(s.url);
    expect((await c.infer('nope', { inputs: [] })).status).toBe(404);
    const r = await c.infer('ctr', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, '9');
    expect(r.status).toBe(404);
    expect(r.body.error).toContain('no version "9"');
  });
});

describe('TensorFlow Serving REST', () => {
  test('predict applies the feature spec to raw fields and returns TF-shaped predictions with a prediction id each', async () => {
    const instances = [{ price: 1.5, age: 20, clicks: 3, country: 'de' }, { price: 2 }, { age: 250, country: 'fr', extra: 'ignored' }];
    const r = await new TfClient(s.url).predict('ctr', instances);
    expect(r.status).toBe(200);
    expect(r.body.predictions).toEqual(await Promise.all(instances.map(async (i) => [await expected(i)])));
    expect(r.body.prediction_ids).toHaveLength(3);
    expect(new Set(r.body.prediction_ids).size).toBe(3);
  });

  test('the columnar format {"inputs": {field: [values]}} answers {"outputs": [...]} with the same values as rows', async () => {
    const rows = [{ price: 1, age: 20, country: 'de' }, { price: 2, age: 50, country: 'us' }];
    const r = await post(`${s.url}/v1/models/ctr:predict`, { inputs: { price: [1, 2], age: [20, 50], country: ['de', 'us'] } });
    expect(r.status).toBe(200);
    expect(r.json.outputs).toEqual(await Promise.all(rows.map(async (x) => [await expected(x)])));
    expect(r.json.prediction_ids).toHaveLength(2);
    const bad = await post(`${s.url}/v1/models/ctr:predict`, { inputs: { price: [1, 2], age: [20] } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('inputs.age: expected an array of 2 values (every column as long as the first), got [20]');
  });

  test('model status lists the served version as AVAILABLE', async () => {
    const st = await new TfClient(s.url).status('ctr');
    expect(st).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    expect((await new TfClient(s.url).predict('ctr', [{ price: 1 }], '1')).status).toBe(200);
  });

  test('NaN and Infinity tokens are accepted as TF Serving allows, and are missing values for the spec (fill applies)', async () => {
    const r = await new TfClient(s.url).predict('ctr', '{"instances": [{"price": NaN, "age": Infinity, "clicks": -Infinity, "country": "NaN"}]}');
    expect(r.status).toBe(200);
    expect(r.body.predictions).toEqual([[await expected({ price: null, age: null, clicks: null, country: 'NaN' })]]);
  });

  test('an unknown model answers 404 in TF Serving’s error shape', async () => {
    const r = await new TfClient(s.url).predict('half', [{ price: 1 }]);
    expect(r.status).toBe(404);
    expect(r.body.error).toContain('Servable not found');
  });
});

describe('ranked answers', () => {
  test('K candidates for one context come back ranked by score with positions, cut to top_k', async () => {
    const context = { age: 20, country: 'de' };
    const candidates = [1, 2, 3, 4, 5].map((p) => ({ candidate_id: `ad-${p}`, price: p * 0.5, clicks: 5 - p }));
    const r = await post(`${s.url}/v1/models/ctr:rank`, { context, candidates, top_k: 3 });
    expect(r.status).toBe(200);
    const scored = await Promise.all(candidates.map(async (c) => ({ candidate_id: c.candidate_id, score: await expected({ ...context, ...c }) })));
    scored.sort((a, b) => b.score - a.score);
    expect(r.json.ranked).toEqual(scored.slice(0, 3).map((x, position) => ({ candidate_id: x.candidate_id, position, score: x.score })));
    expect(typeof r.json.prediction_id).toBe('string');
  });

  test('a candidate without candidate_id answers 400 naming it', async () => {
    const r = await post(`${s.url}/v1/models/ctr:rank`, { context: {}, candidates: [{ candidate_id: 'a' }, { price: 1 }] });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('candidates[1].candidate_id: expected a string or number, got nothing');
  });
});
