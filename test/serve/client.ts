// A small client written from the documents, not from our server: the Open Inference Protocol v2
// REST spec (kserve/open-inference-protocol, inference_rest.md) and TensorFlow Serving's REST API
// (tensorflow_serving/g3doc/api_rest.md). It builds requests exactly as they write them and checks
// every answer against the shapes they define, throwing on anything else.
import { expect } from 'vitest';

type Json = any;

async function call(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; text: string }> {
  const res = await fetch(url, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

const isStr = (v: unknown) => typeof v === 'string';

/** v2: "$metadata_model_response" { name, versions #optional, platform, inputs: [$metadata_tensor], outputs: [...] }. */
export function checkModelMetadata(m: Json): void {
  expect(isStr(m.name)).toBe(true);
  if (m.versions !== undefined) expect(m.versions.every(isStr)).toBe(true);
  expect(isStr(m.platform)).toBe(true);
  for (const t of [...m.inputs, ...m.outputs]) {
    expect(Object.keys(t).sort()).toEqual(['datatype', 'name', 'shape']);
    expect(isStr(t.name) && isStr(t.datatype)).toBe(true);
    expect(t.shape.every(Number.isInteger)).toBe(true);
  }
}

/** v2: "$inference_response" { model_name, model_version #optional, id #optional, parameters #optional, outputs: [$response_output] }. */
export function checkInferResponse(r: Json): void {
  expect(isStr(r.model_name)).toBe(true);
  if (r.model_version !== undefined) expect(isStr(r.model_version)).toBe(true);
  if (r.id !== undefined) expect(isStr(r.id)).toBe(true);
  if (r.parameters !== undefined) expect(typeof r.parameters).toBe('object');
  expect(Array.isArray(r.outputs)).toBe(true);
  for (const o of r.outputs) {
    expect(isStr(o.name) && isStr(o.datatype)).toBe(true);
    const size = o.shape.reduce((a: number, b: number) => a * b, 1);
    expect(o.data.flat(Infinity)).toHaveLength(size);
  }
}

export class V2Client {
  constructor(readonly base: string, readonly headers: Record<string, string> = {}) {}
  live = () => call('GET', `${this.base}/v2/health/live`, undefined, this.headers);
  ready = () => call('GET', `${this.base}/v2/health/ready`, undefined, this.headers);
  async metadata(model: string, version?: string): Promise<Json> {
    const r = await call('GET', `${this.base}/v2/models/${model}${version ? `/versions/${version}` : ''}`, undefined, this.headers);
    expect(r.status).toBe(200);
    checkModelMetadata(r.body);
    return r.body;
  }
  /** `inputs`: [{ name, shape, datatype, data }]; answers the parsed body after checking it (or the error status and body). */
  async infer(model: string, request: { id?: string; inputs: Json[]; outputs?: { name: string }[]; parameters?: Json }, version?: string): Promise<{ status: number; body: Json }> {
    const r = await call('POST', `${this.base}/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`, JSON.stringify(request), this.headers);
    if (r.status === 200) checkInferResponse(r.body);
    else expect(isStr(r.body.error)).toBe(true); // "$inference_error_response" { error: $string }
    return r;
  }
}

export class TfClient {
  constructor(readonly base: string, readonly headers: Record<string, string> = {}) {}
  /** GET /v1/models/{name}[/versions/{v}] → { model_version_status: [{ version, state, status: { error_code, error_message } }] } */
  async status(model: string, version?: string): Promise<Json> {
    const r = await call('GET', `${this.base}/v1/models/${model}${version ? `/versions/${version}` : ''}`, undefined, this.headers);
    expect(r.status).toBe(200);
    for (const s of r.body.model_version_status) {
      expect(isStr(s.version) && isStr(s.state)).toBe(true);
      expect(isStr(s.status.error_code)).toBe(true);
    }
    return r.body;
  }
  /** POST …:predict {"instances": [...]} → {"predictions": [...]} (row format), or {"error": …}. `raw` sends the body text as is. */
  async predict(model: string, instances: Json[] | string, version?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; text: string }> {
    const body = typeof instances === 'string' ? instances : JSON.stringify({ instances });
    const r = await call('POST', `${this.base}/v1/models/${model}${version ? `/versions/${version}` : ''}:predict`, body, { ...this.headers, ...headers });
    if (r.status === 200) {
      expect(Array.isArray(r.body.predictions)).toBe(true);
      if (typeof instances !== 'string') expect(r.body.predictions).toHaveLength(instances.length);
    } else expect(isStr(r.body.error)).toBe(true);
    return r;
  }
}
