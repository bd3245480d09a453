// TensorFlow Serving's REST API: `POST /v1/models/{name}[/versions/{v}]:predict` with
// `{"instances": [{raw fields}, …]}` → `{"predictions": […]}` (one output: its value per instance;
// several: an object per instance), plus `prediction_ids` beside them; the model status
// `GET /v1/models/{name}[/versions/{v}]`; and sluice's ranked answer `:rank`
// (`{"context": {…}, "candidates": [{"candidate_id": …, …}], "top_k"?}` → the ranked list).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PredictionRecord } from '../feedback/records.ts';
import type { Arm, ArmSet } from './arms.ts';
import { FieldError, HttpError } from './errors.ts';
import { rowValue, stringifyAnswer } from './json.ts';
import { checkFailed, keyOf, newPredictionId, outputsOf, pinnedArm, record, scoreOf, type ServeContext, shadowCopy, timeoutOf, write } from './predict.ts';
import type { ServedVersion, Work, WorkResult } from './version.ts';

const MAX_INSTANCES = 4096;

/** `ctr/versions/2:predict` → its parts. */
function parsePath(rest: string): { name: string; version?: string; verb?: string } {
  const m = /^([^/:]+)(?:\/versions\/([^/:]+))?(?::([a-z]+))?$/.exec(rest);
  if (!m) throw new HttpError(404, `no route /v1/models/${rest}: write /v1/models/{name}[/versions/{version}]:predict`);
  return { name: decodeURIComponent(m[1]!), ...(m[2] ? { version: m[2] } : {}), ...(m[3] ? { verb: m[3] } : {}) };
}

function checkName(set: ArmSet, name: string): void {
  if (name !== set.name) throw new HttpError(404, `Servable not found for request: model ${JSON.stringify(name)} (this server serves ${JSON.stringify(set.name)})`);
}

function objectAt(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FieldError(path, 'an object of raw fields', v);
  return v as Record<string, unknown>;
}

export function registerTfServing(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v1/models/*', async (req, reply) => {
    const p = parsePath((req.params as { '*': string })['*']);
    const set = ctx.arms.current;
    checkName(set, p.name);
    const arms = p.version === undefined ? set.arms : [pinnedArm(set, p.version)!];
    return reply.send({ model_version_status: arms.map((a) => ({ version: String(a.version.version), state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } })) });
  });

  app.post('/v1/models/*', async (req, reply) => {
    const t0 = performance.now();
    const p = parsePath((req.params as { '*': string })['*']);
    if (p.verb === 'predict') return predict(ctx, req, reply, p, t0);
    if (p.verb === 'rank') return rank(ctx, req, reply, p, t0);
    throw new HttpError(404, `no verb ${JSON.stringify(p.verb ?? '')}: sluice answers :predict and :rank`);
  });
}

function send(ctx: ServeContext, reply: FastifyReply, route: string, t0: number, body: string): FastifyReply {
  ctx.metrics.latency.observe({ route, code: '200' }, (performance.now() - t0) / 1000);
  ctx.metrics.requests.inc({ route, code: '200' });
  return reply.type('application/json').send(body);
}

async function predict(ctx: ServeContext, req: FastifyRequest, reply: FastifyReply, p: { name: string; version?: string }, t0: number): Promise<FastifyReply> {
  const set = ctx.arms.current;
  checkName(set, p.name);
  const pinned = pinnedArm(set, p.version);
  const body = req.body as { instances?: unknown; inputs?: unknown } | null;
  const columnar = body?.instances === undefined && body?.inputs !== undefined;
  const instances = columnar ? columnsToRows(body!.inputs) : body?.instances;
  if (!Array.isArray(instances) || !instances.length) throw new FieldError('instances', 'a non-empty array of objects of raw fields (TF Serving row format), or "inputs": {field: [values]} (columnar format)', instances);
  if (instances.length > MAX_INSTANCES) throw new FieldError('instances', `at most ${MAX_INSTANCES} instances per request`, instances);
  const rows = instances.map((r, i) => objectAt(r, `instances[${i}]`));
  if (!set.arms[0]!.version.compiled) throw new HttpError(400, `model ${set.name} has no feature spec, so raw fields cannot be scored: use POST /v2/models/${set.name}/infer with tensors`);
  const timeout = timeoutOf(ctx, req.headers['x-sluice-timeout-ms']);

  // Group instances by arm (one group without a split), one batcher job per group.
  const groups = new Map<Arm, number[]>();
  const header = keyOf(req.headers['x-sluice-key']);
  const keys: (string | undefined)[] = rows.map((r) => (ctx.abKey ? (keyOf(r[ctx.abKey]) ?? header) : undefined));
  rows.forEach((_, i) => {
    const arm = pinned ?? set.pick(keys[i]);
    let g = groups.get(arm);
    if (!g) groups.set(arm, (g = []));
    g.push(i);
  });
  const results = await Promise.all(
    [...groups].map(async ([arm, idx]) => {
      const work: Work = { kind: 'fields', rows: idx.length === rows.length ? rows : idx.map((i) => rows[i]!) };
      const r = await arm.version.score(work, timeout);
      checkFailed(r, (row) => `instances[${idx[row]}]`);
      return { arm, idx, work, r };
    }),
  );

  const now = Date.now();
  const ids = new Array<string>(rows.length);
  const predictions = new Array<unknown>(rows.length);
  const acc = { nonFinite: false };
  for (const { arm, idx, work, r } of results) {
    const v = arm.version;
    const records = (sv: ServedVersion, res: WorkResult) => idx.map((i, row) => record(sv, arm, ids[i]!, now, keys[i], rows[i]!, outputsOf(sv, res, row)));
    idx.forEach((i, row) => {
      ids[i] = newPredictionId();
      predictions[i] = prediction(v, r, row, acc);
    });
    write(ctx, () => records(v, r), arm.name);
    shadowCopy(ctx, set, work, timeout, records);
  }
  const answer = columnar ? { outputs: columnOutputs(set.arms[0]!.version, predictions), prediction_ids: ids } : { predictions, prediction_ids: ids };
  return send(ctx, reply, 'tfserving', t0, stringifyAnswer(answer, acc.nonFinite));
}

/** The columnar request format `{"inputs": {field: [v0, v1, …]}}` as rows. */
function columnsToRows(inputs: unknown): Record<string, unknown>[] {
  const cols = objectAt(inputs, 'inputs');
  const names = Object.keys(cols);
  if (!names.length) throw new FieldError('inputs', 'an object of equally long columns {field: [values]}', cols);
  const n = Array.isArray(cols[names[0]!]) ? (cols[names[0]!] as unknown[]).length : -1;
  for (const k of names) {
    const c = cols[k];
    if (!Array.isArray(c) || c.length !== n || n < 1) throw new FieldError(`inputs.${k}`, `an array of ${n < 1 ? 'at least 1' : n} values (every column as long as the first)`, c);
  }
  if (n > MAX_INSTANCES) throw new FieldError('inputs', `at most ${MAX_INSTANCES} rows per request`, `${n} rows`);
  return Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k) => [k, (cols[k] as unknown[])[i]])));
}

/** Columnar answers: one output → its list of values; several → an object of lists by output name. */
function columnOutputs(v: ServedVersion, predictions: unknown[]): unknown {
  if (v.outputs.length === 1) return predictions;
  return Object.fromEntries(v.outputs.map((s) => [s.name, predictions.map((p) => (p as Record<string, unknown>)[s.name])]));
}

/** One instance's prediction as TF Serving writes it. */
function prediction(v: ServedVersion, r: WorkResult, row: number, acc: { nonFinite: boolean }): unknown {
  const one = (s: ServedVersion['outputs'][number]) => rowValue(r.outputs[s.name]!.data, row, s.rowSize, s.rowShape.length === 0, acc);
  if (v.outputs.length === 1) return one(v.outputs[0]!);
  return Object.fromEntries(v.outputs.map((s) => [s.name, one(s)]));
}

async function rank(ctx: ServeContext, req: FastifyRequest, reply: FastifyReply, p: { name: string; version?: string }, t0: number): Promise<FastifyReply> {
  const set = ctx.arms.current;
  checkName(set, p.name);
  const body = objectAt(req.body, 'body') as { context?: unknown; candidates?: unknown; top_k?: unknown };
  const context = body.context === undefined ? {} : objectAt(body.context, 'context');
  const cands = body.candidates;
  if (!Array.isArray(cands) || !cands.length || cands.length > MAX_INSTANCES) throw new FieldError('candidates', `a non-empty array (at most ${MAX_INSTANCES}) of objects with candidate_id and raw fields`, cands);
  const topK = body.top_k === undefined ? cands.length : body.top_k;
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1) throw new FieldError('top_k', 'a positive integer', topK);
  const rows = cands.map((c, i) => {
    const o = objectAt(c, `candidates[${i}]`);
    if (keyOf(o.candidate_id) === undefined) throw new FieldError(`candidates[${i}].candidate_id`, 'a string or number', o.candidate_id);
    return { ...context, ...o };
  });
  if (!set.arms[0]!.version.compiled) throw new HttpError(400, `model ${set.name} has no feature spec, so raw fields cannot be ranked`);
  const key = ctx.abKey ? (keyOf(context[ctx.abKey]) ?? keyOf(req.headers['x-sluice-key'])) : undefined;
  const arm = pinnedArm(set, p.version) ?? set.pick(key);
  const timeout = timeoutOf(ctx, req.headers['x-sluice-timeout-ms']);
  const work: Work = { kind: 'fields', rows };
  const r = await arm.version.score(work, timeout);
  checkFailed(r, (row) => `candidates[${row}]`);

  const id = newPredictionId();
  const now = Date.now();
  const records = (sv: ServedVersion, res: WorkResult): PredictionRecord[] => {
    const shown = rankRows(sv, res, rows, topK);
    const rec = record(sv, arm, id, now, key, context, { score: shown.map((s) => s.score) });
    rec.shown = shown;
    return [rec];
  };
  const recs = records(arm.version, r);
  write(ctx, () => recs, arm.name);
  shadowCopy(ctx, set, work, timeout, records);
  const acc = { nonFinite: recs[0]!.shown!.some((s) => !Number.isFinite(s.score)) };
  return send(ctx, reply, 'rank', t0, stringifyAnswer({ prediction_id: id, model_version: String(arm.version.version), ranked: recs[0]!.shown }, acc.nonFinite));
}

/** Candidates by score, highest first (ties keep request order), cut to `k`. */
function rankRows(v: ServedVersion, r: WorkResult, rows: Record<string, unknown>[], k: number): NonNullable<PredictionRecord['shown']> {
  const order = rows.map((_, i) => i).sort((a, b) => scoreOf(v, r, b) - scoreOf(v, r, a) || a - b);
  return order.slice(0, k).map((i, position) => ({ candidate_id: String(rows[i]!.candidate_id), position, score: scoreOf(v, r, i) }));
}
