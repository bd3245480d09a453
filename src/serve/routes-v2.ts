// The Open Inference Protocol v2 (KServe, Triton) over REST: health, server and model metadata,
// model readiness, and `POST /v2/models/{name}[/versions/{v}]/infer` with tensors
// `{"inputs": [{"name", "shape", "datatype", "data"}]}` → `{"model_name", "model_version", "id",
// "outputs": [{"name", "shape", "datatype", "data"}]}`. The prediction ids of the rows come back in
// the response's `parameters.prediction_ids` (the protocol's place for extra response fields).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Tensor, Tensors } from '../model/backends/backend.ts';
import type { Arm, ArmSet } from './arms.ts';
import { FieldError, HttpError, describe } from './errors.ts';
import { parseBody, stringifyAnswer } from './json.ts';
import { keyOf, newPredictionId, outputsOf, pinnedArm, record, type ServeContext, shadowCopy, timeoutOf, write } from './predict.ts';
import { DataSpan, JsonText, Miss, readV2Body } from './v2-body.ts';
import type { IoSig, ServedVersion, WorkResult } from './version.ts';

const DATATYPE = { float32: 'FP32', int64: 'INT64' } as const;
const MAX_ROWS = 4096;

type Params = { name: string; version?: string };

function versionFor(set: ArmSet, p: Params): ServedVersion {
  if (p.name !== set.name) throw new HttpError(404, `no model ${JSON.stringify(p.name)} (this server serves ${JSON.stringify(set.name)})`);
  return (pinnedArm(set, p.version) ?? set.arms[0]!).version;
}

function metadata(set: ArmSet, v: ServedVersion) {
  const io = (s: IoSig) => ({ name: s.name, datatype: DATATYPE[s.dtype], shape: [-1, ...s.rowShape] });
  return { name: set.name, versions: set.arms.map((a) => String(a.version.version)), platform: 'onnxruntime_onnx', inputs: v.inputs.map(io), outputs: v.outputs.map(io) };
}

export function registerV2(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v2/health/live', async (_req, reply) => reply.send({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.send({ ready: true }));
  app.get('/v2', async (_req, reply) => reply.send({ name: 'sluice', version: '0.1.0', extensions: [] }));
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, async (req, reply) => {
      const set = ctx.arms.current;
      return reply.send(metadata(set, versionFor(set, req.params as Params)));
    });
    app.get(`${prefix}/ready`, async (req, reply) => {
      const set = ctx.arms.current;
      const v = versionFor(set, req.params as Params);
      return reply.send({ name: set.name, version: String(v.version), ready: true });
    });
    // The body arrives unparsed (JsonText): infer reads it with the fast v2 reader.
    app.post(`${prefix}/infer`, { config: { jsonText: true } }, (req, reply) => infer(ctx, req, reply));
  }
}

type Body = { id?: unknown; inputs?: unknown; outputs?: unknown; parameters?: unknown };

/** A request checked against the model: its arm, input tensors and wanted outputs. */
interface Checked {
  body: Body;
  key: string | undefined;
  arm: Arm;
  tensors: Tensors;
  rows: number;
  wanted: IoSig[];
}

/** 404 for an unknown model or version, then 400 for a body that does not fit the model's signature. */
function check(ctx: ServeContext, set: ArmSet, p: Params, req: FastifyRequest, raw: unknown): Checked {
  versionFor(set, p);
  const body = raw as Body | null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new FieldError('body', 'an inference request object {"inputs": [...]}', body);
  const params = (body.parameters && typeof body.parameters === 'object' ? body.parameters : {}) as Record<string, unknown>;
  const key = ctx.abKey ? (keyOf(params[ctx.abKey]) ?? keyOf(req.headers['x-sluice-key'])) : undefined;
  const arm = pinnedArm(set, p.version) ?? set.pick(key);
  const { tensors, rows } = readInputs(arm.version, body.inputs);
  const wanted = readOutputs(arm.version, body.outputs);
  return { body, key, arm, tensors, rows, wanted };
}

async function infer(ctx: ServeContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const t0 = performance.now();
  const set = ctx.arms.current;
  const p = req.params as Params;
  let c: Checked | undefined;
  if (req.body instanceof JsonText) {
    // The fast reader (float data straight into typed arrays) when the body is plain and valid for
    // the model; anything else, errors included, goes the JSON.parse way, which answers as it always did.
    const fast = readV2Body(req.body.bytes);
    if (fast) {
      try {
        c = check(ctx, set, p, req, fast);
      } catch {
        c = undefined;
      }
    }
    c ??= check(ctx, set, p, req, parseBody(req.body.text));
  } else c = check(ctx, set, p, req, req.body);
  const { body, key, arm, tensors, rows, wanted } = c;
  const v = arm.version;
  const timeout = timeoutOf(ctx, req.headers['x-sluice-timeout-ms']);
  const work = { kind: 'tensors' as const, tensors, rows };
  const r = await v.score(work, timeout);

  const now = Date.now();
  const ids = new Array<string>(rows);
  for (let i = 0; i < rows; i++) ids[i] = newPredictionId();
  if (ctx.log) {
    // Without a log neither the records nor the shadow copy exist: no closure on the answer's path.
    const records = (sv: ServedVersion, res: WorkResult) => ids.map((id, row) => record(sv, arm, id, now, key, fieldsOf(tensors, row), outputsOf(sv, res, row)));
    write(ctx, () => records(v, r), arm.name);
    shadowCopy(ctx, set, work, timeout, records);
  }

  const text = answerText(set.name, v.version, body.id, ids, arm.name, wanted, r, rows) ?? answerObject(set.name, v.version, body.id, ids, arm.name, wanted, r, rows);
  ctx.metrics.v2Ok.latency.observe((performance.now() - t0) / 1000);
  ctx.metrics.v2Ok.requests.inc();
  return reply.type('application/json').send(text);
}

/**
 * The answer's JSON written by hand: what JSON.stringify gives for answerObject's object, without
 * building it (the v2 answer is on every request's path). Undefined when an output holds NaN or
 * ±Infinity: answerObject writes those.
 */
export function answerText(model: string, version: number, id: unknown, ids: string[], arm: string, wanted: IoSig[], r: WorkResult, rows: number): string | undefined {
  let out = headText(model, version);
  if (typeof id === 'string') out += `,"id":${JSON.stringify(id)}`;
  out += ',"parameters":{"prediction_ids":[';
  for (let i = 0; i < ids.length; i++) out += `${i ? ',' : ''}"${ids[i]}"`; // UUIDs: nothing to escape
  out += armText(arm);
  for (let k = 0; k < wanted.length; k++) {
    const s = wanted[k]!;
    const d = r.outputs[s.name]!.data;
    const [open, shapeRest] = outputText(s);
    out += `${k ? ',' : ''}${open}${rows}${shapeRest}`;
    for (let i = 0; i < d.length; i++) {
      const x = Number(d[i]!);
      if (!Number.isFinite(x)) return undefined;
      out += i ? `,${x}` : `${x}`;
    }
    out += ']}';
  }
  return out + ']}';
}

// The answer's fixed parts, written once (the same few model versions, arms and outputs answer
// every request): the last head and arm, and each output's text by its signature.
let head = { model: '', version: -1, text: '' };
let armPart = { arm: '', text: '' };
const outputParts = new WeakMap<IoSig, [string, string]>();

function headText(model: string, version: number): string {
  if (head.model !== model || head.version !== version) head = { model, version, text: `{"model_name":${JSON.stringify(model)},"model_version":"${version}"` };
  return head.text;
}

function armText(arm: string): string {
  if (armPart.arm !== arm) armPart = { arm, text: `],"arm":${JSON.stringify(arm)}},"outputs":[` };
  return armPart.text;
}

/** An output's text before its row count, and from there to its data: `{"name":…,"shape":[` and `,1],"data":[`. */
function outputText(s: IoSig): [string, string] {
  let t = outputParts.get(s);
  if (!t) outputParts.set(s, (t = [`{"name":${JSON.stringify(s.name)},"datatype":"${DATATYPE[s.dtype]}","shape":[`, `${s.rowShape.map((x) => `,${x}`).join('')}],"data":[`]));
  return t;
}

/** The answer as an object, serialized with the non-finite tokens TF Serving's JSON allows. */
export function answerObject(model: string, version: number, id: unknown, ids: string[], arm: string, wanted: IoSig[], r: WorkResult, rows: number): string {
  let nonFinite = false;
  const outputs = wanted.map((s) => {
    const d = r.outputs[s.name]!.data;
    const data = Array.from(d, Number);
    if (s.dtype === 'float32' && !nonFinite) nonFinite = data.some((x) => !Number.isFinite(x));
    return { name: s.name, datatype: DATATYPE[s.dtype], shape: [rows, ...s.rowShape], data };
  });
  const answer: Record<string, unknown> = { model_name: model, model_version: String(version) };
  if (typeof id === 'string') answer.id = id;
  answer.parameters = { prediction_ids: ids, arm };
  answer.outputs = outputs;
  return stringifyAnswer(answer, nonFinite);
}

/** A row of each input tensor, for the log's `fields`. */
function fieldsOf(t: Tensors, row: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(t)) {
    const per = x.dims.slice(1).reduce((a, b) => a * b, 1);
    out[k] = Array.from(x.data.subarray(row * per, (row + 1) * per), Number);
  }
  return out;
}

/** Validates the request's `inputs` against the model's signature and copies them into typed arrays. */
function readInputs(v: ServedVersion, inputs: unknown): { tensors: Tensors; rows: number } {
  if (!Array.isArray(inputs) || !inputs.length) throw new FieldError('inputs', `a non-empty array of tensors {name, shape, datatype, data} (the model takes ${v.inputs.map((s) => s.name).join(', ')})`, inputs);
  const tensors: Tensors = {};
  let rows = -1;
  // A plain loop, the error texts built only for an error: this runs on every v2 request.
  for (let i = 0; i < inputs.length; i++) {
    const inp: unknown = inputs[i];
    if (inp === null || typeof inp !== 'object' || Array.isArray(inp)) throw new FieldError(`inputs[${i}]`, 'a tensor object {name, shape, datatype, data}', inp);
    const { name, shape, datatype, data } = inp as Record<string, unknown>;
    let sig: IoSig | undefined;
    for (const s of v.inputs) if (s.name === name) (sig ??= s);
    if (!sig) throw new FieldError(`inputs[${i}].name`, `one of ${v.inputs.map((s) => JSON.stringify(s.name)).join(', ')}`, name);
    if (tensors[sig.name]) throw new FieldError(`inputs[${i}].name`, `each input once; ${JSON.stringify(name)} is repeated`);
    if (datatype !== DATATYPE[sig.dtype]) throw new FieldError(`inputs[${i}].datatype`, `${JSON.stringify(DATATYPE[sig.dtype])} (input ${sig.name} is ${sig.dtype})`, datatype);
    const rank = sig.rowShape.length + 1;
    let fits = Array.isArray(shape) && shape.length === rank;
    for (let k = 0; fits && k < rank; k++) fits = Number.isInteger((shape as unknown[])[k]);
    const n = fits ? ((shape as number[])[0] as number) : 0;
    if (fits) fits = n >= 1 && n <= MAX_ROWS;
    for (let k = 0; fits && k < sig.rowShape.length; k++) fits = (shape as number[])[k + 1] === sig.rowShape[k];
    if (!fits) throw new FieldError(`inputs[${i}].shape`, `[N, ${sig.rowShape.join(', ')}] with 1 ≤ N ≤ ${MAX_ROWS}`, shape);
    if (rows >= 0 && n !== rows) throw new FieldError(`inputs[${i}].shape`, `the same first dimension as the other inputs (${rows})`, shape);
    rows = n;
    tensors[sig.name] = readData(sig, data, n, `inputs[${i}].data`);
  }
  const missing = v.inputs.find((s) => !tensors[s.name]);
  if (missing) throw new FieldError('inputs', `an input named ${JSON.stringify(missing.name)} (${DATATYPE[missing.dtype]}, shape [N, ${missing.rowShape.join(', ')}])`);
  return { tensors, rows };
}

/** `data` flat or nested (the v2 spec allows both), row-major, into a typed array of n × rowSize. */
function readData(sig: IoSig, data: unknown, n: number, at: string): Tensor {
  const size = n * sig.rowSize;
  if (data instanceof DataSpan) {
    // From the fast reader: FP32 of the right size only (else Miss: the JSON.parse path answers).
    if (sig.dtype !== 'float32' || data.values.length !== size) throw new Miss('v2 fast path: not FP32 data of the shape');
    return { type: 'float32', data: data.values, dims: [n, ...sig.rowShape] };
  }
  const out = sig.dtype === 'int64' ? new BigInt64Array(size) : new Float32Array(size);
  if (!Array.isArray(data)) throw new FieldError(at, `an array of ${size} numbers (row-major, flat or nested)`, data);
  const flat = (data.length === size ? data : data.flat(sig.rowShape.length + 1)) as unknown[];
  if (flat.length !== size) throw new FieldError(at, `${size} numbers for shape [${n}, ${sig.rowShape.join(', ')}]`, flat.length <= 8 ? flat : `${flat.length} values`);
  for (let i = 0; i < size; i++) {
    const x = flat[i];
    if (typeof x !== 'number') throw new FieldError(`${at}[${i}]`, sig.dtype === 'int64' ? 'an integer' : 'a number', x);
    if (out instanceof BigInt64Array) {
      if (!Number.isSafeInteger(x)) throw new FieldError(`${at}[${i}]`, 'an integer (INT64)', x);
      out[i] = BigInt(x);
    } else out[i] = x;
  }
  return { type: sig.dtype, data: out, dims: [n, ...sig.rowShape] };
}

function readOutputs(v: ServedVersion, outputs: unknown): IoSig[] {
  if (outputs === undefined) return v.outputs;
  if (!Array.isArray(outputs)) throw new FieldError('outputs', 'an array of {name}', outputs);
  return outputs.map((o: unknown, i) => {
    const name = (o as { name?: unknown } | null)?.name;
    const s = v.outputs.find((x) => x.name === name);
    if (!s) throw new FieldError(`outputs[${i}].name`, `one of ${v.outputs.map((x) => JSON.stringify(x.name)).join(', ')}`, name ?? describe(o));
    return s;
  });
}
