// Security defaults: loopback bind, the token rules (admin always, inference when bound
// elsewhere), 413 over the body limit, and 400 answers that name the field path and what was expected.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SluiceServer } from '../../src/serve/server.ts';
import { post, serve, serveFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
let s: SluiceServer;

beforeAll(async () => {
  fx = await serveFixture(1);
  s = await serve(fx, { bodyLimit: 4096 });
});
afterAll(async () => {
  await s.close();
  await fx.close();
});

const x = (data: unknown, shape: unknown = [1, 4], datatype: unknown = 'FP32') => ({ inputs: [{ name: 'x', shape, datatype, data }] });

describe('binding and tokens', () => {
  test('binds 127.0.0.1 by default and answers inference there without a token', async () => {
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await post(`${s.url}/v1/models/ctr:predict`, { instances: [{ price: 1 }] })).status).toBe(200);
  });

  test('admin endpoints need the token even on loopback: 401 without, 200 with', async () => {
    const no = await post(`${s.url}/admin/reload`, {});
    expect(no.status).toBe(401);
    expect(no.json.error).toBe('admin endpoints always need the token: send "Authorization: Bearer <token>"');
    expect((await post(`${s.url}/admin/reload`, {}, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(`${s.url}/admin/reload`, {}, { authorization: `Bearer ${s.token}` })).json).toEqual({ before: ['ctr@1'], after: ['ctr@1'] });
  });

  test('no spelling of the admin path passes as a health check', async () => {
    for (const path of ['/v2/health/../../admin/reload', '/v2/health/live/../../../admin/reload', '/v2/health%2F..%2F..%2Fadmin/reload']) {
      expect([401, 404]).toContain((await post(`${s.url}${path}`, {})).status);
    }
  });

  test('bound to another address, inference and metrics need the token; health does not', async () => {
    const open = await serve(fx, { host: '0.0.0.0', token: 'sls_test-token' });
    try {
      const url = open.url.replace('0.0.0.0', '127.0.0.1');
      const no = await post(`${url}/v1/models/ctr:predict`, { instances: [{ price: 1 }] });
      expect(no.status).toBe(401);
      expect(no.json.error).toContain('this server is bound to 0.0.0.0, so every request needs the token');
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
      expect((await post(`${url}/v1/models/ctr:predict`, { instances: [{ price: 1 }] }, { authorization: 'Bearer sls_test-token' })).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('input errors', () => {
  test('a body over the limit answers 413', async () => {
    const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: Array.from({ length: 400 }, (_, i) => ({ price: i })) });
    expect(r.status).toBe(413);
    expect(r.json.error).toBe('body: larger than the limit of 4096 bytes');
  });

  test.each([
    ['not JSON', '{"instances": [', /^body: not valid JSON: /],
    ['instances missing', { rows: [] }, /^instances: expected a non-empty array of objects of raw fields \(TF Serving row format\), or "inputs": \{field: \[values\]\} \(columnar format\), got nothing$/],
    ['an instance that is not an object', { instances: [{ price: 1 }, [1, 2]] }, /^instances\[1\]: expected an object of raw fields, got \[1, 2\]$/],
  ])('TF predict: %s answers 400 naming the field', async (_name, body, message) => {
    const r = await post(`${s.url}/v1/models/ctr:predict`, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
  });

  test('TF predict: a row the feature spec cannot use answers 400 naming the instance and the feature', async () => {
    const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: [{ price: 1 }, { price: 1e39 }] });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('instances[1]: feature price: value 1e+39 is outside the float32 range');
  });

  test.each([
    ['an unknown input name', { inputs: [{ name: 'z', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 'inputs[0].name: expected one of "x", got "z"'],
    ['a wrong datatype', x([1, 2, 3, 4], [1, 4], 'FP64'), 'inputs[0].datatype: expected "FP32" (input x is float32), got "FP64"'],
    ['a wrong shape', x([1, 2, 3], [1, 3]), 'inputs[0].shape: expected [N, 4] with 1 ≤ N ≤ 4096, got [1, 3]'],
    ['too few values', x([1, 2, 3], [1, 4]), 'inputs[0].data: expected 4 numbers for shape [1, 4], got [1, 2, 3]'],
    ['a string among the numbers', x([1, 2, 'a', 4]), 'inputs[0].data[2]: expected a number, got "a"'],
    ['no inputs', { inputs: [] }, 'inputs: expected a non-empty array of tensors {name, shape, datatype, data} (the model takes x), got []'],
    ['an unknown output', { ...x([1, 2, 3, 4]), outputs: [{ name: 'q' }] }, 'outputs[0].name: expected one of "y", got "q"'],
  ])('v2 infer: %s answers 400 naming the field path and the expected shape or type', async (_name, body, message) => {
    const r = await post(`${s.url}/v2/models/ctr/infer`, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe(message);
  });

  test('v2 infer: NaN and Infinity tokens reach the model as IEEE values; a NaN output is written as the NaN token', async () => {
    const res = await fetch(`${s.url}/v2/models/ctr/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [NaN, 1, 2, 3]}]}' });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/"data":\[NaN\]/);
  });
});
