// A remote model server over HTTP: the Open Inference Protocol v2 (Triton, KServe) or TensorFlow
// Serving's REST `:predict`. A batch is split into requests of at most `maxBatch` rows, at most
// `concurrency` in flight; 503, 429 and connection errors are retried with backoff, each request
// has a timeout. An answer that is not a valid result (not JSON, wrong names, shapes or lengths)
// is a RemoteAnswerError: the caller dead-letters those rows and goes on. Timeouts and servers
// still unavailable after the retries are RetryableErrors: the task fails and can be rerun.
import { InputError, RetryableError } from '../../core/errors.ts';
import { type Backend, RemoteAnswerError, type Tensor, type Tensors, sliceRows, toRows } from './backend.ts';

export interface RemoteSpec {
  url: string;
  protocol: 'v2' | 'tfserving';
  model: string;
  version?: string;
  /** output names to request and their row widths */
  outputs: { name: string; width: number }[];
  maxBatch?: number;
  concurrency?: number;
  retries?: number;
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RemoteBackend implements Backend {
  readonly name: string;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** requests sent, including retries (for tests and logs) */
  requests = 0;

  constructor(private readonly spec: RemoteSpec) {
    this.name = `${spec.protocol}:${spec.url}`;
    if (!/^https?:\/\//.test(spec.url)) throw new InputError(`remote model URL ${JSON.stringify(spec.url)} is not http(s)`, { hint: 'write e.g. http://127.0.0.1:8000' });
  }

  private get base(): string {
    const u = this.spec.url.replace(/\/+$/, '');
    const m = encodeURIComponent(this.spec.model);
    const v = this.spec.version ? `/versions/${encodeURIComponent(this.spec.version)}` : '';
    return this.spec.protocol === 'v2' ? `${u}/v2/models/${m}${v}/infer` : `${u}/v1/models/${m}${v}:predict`;
  }

  async run(inputs: Tensors, rows: number): Promise<Tensors> {
    const max = this.spec.maxBatch ?? 1024;
    const slices: Promise<Tensors>[] = [];
    for (let from = 0; from < rows; from += max) {
      const to = Math.min(rows, from + max);
      const part: Tensors = {};
      for (const [k, t] of Object.entries(inputs)) part[k] = sliceRows(toRows(t), from, to);
      slices.push(this.limited(() => this.request(part, to - from)));
    }
    const results = await Promise.all(slices);
    const out: Tensors = {};
    for (const o of this.spec.outputs) {
      const data = new Float32Array(rows * o.width);
      let at = 0;
      for (const r of results) {
        data.set(r[o.name]!.data as Float32Array, at);
        at += r[o.name]!.data.length;
      }
      out[o.name] = { type: 'float32', data, dims: [rows, o.width] };
    }
    return out;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= (this.spec.concurrency ?? 4)) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async request(inputs: Tensors, rows: number): Promise<Tensors> {
    const body = JSON.stringify(this.spec.protocol === 'v2' ? v2Request(inputs, this.spec.outputs) : tfRequest(inputs));
    const retries = this.spec.retries ?? 3;
    const timeout = this.spec.timeoutMs ?? 30_000;
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** attempt));
      this.requests++;
      let res: Response;
      try {
        res = await fetch(this.base, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeout) });
      } catch (e) {
        const err = e as Error;
        last = err.name === 'TimeoutError' ? `no answer within ${timeout} ms` : `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`;
        continue;
      }
      const text = await res.text().catch(() => '');
      if (res.status === 503 || res.status === 429) {
        last = `HTTP ${res.status}`;
        continue;
      }
      if (!res.ok) throw new RemoteAnswerError(`${this.name}: HTTP ${res.status}: ${text.slice(0, 200)}`);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new RemoteAnswerError(`${this.name}: the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
      }
      return this.spec.protocol === 'v2' ? parseV2(json, this.spec.outputs, rows, this.name) : parseTf(json, this.spec.outputs, rows, this.name);
    }
    throw new RetryableError(`${this.name}: gave up after ${retries + 1} attempts: ${last}`, { hint: 'check that the model server is up and not overloaded, then rerun: finished parts are kept' });
  }

  async close(): Promise<void> {}
}

function v2Request(inputs: Tensors, outputs: RemoteSpec['outputs']): unknown {
  return {
    inputs: Object.entries(inputs).map(([name, t]) => ({ name, shape: t.dims, datatype: t.type === 'int64' ? 'INT64' : 'FP32', data: Array.from(t.data, Number) })),
    outputs: outputs.map((o) => ({ name: o.name })),
  };
}

function tfRequest(inputs: Tensors): unknown {
  const nested = (t: Tensor) => {
    const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
    return Array.from({ length: t.dims[0]! }, (_, i) => Array.from(t.data.subarray(i * per, (i + 1) * per), Number));
  };
  return { inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, nested(t)])) };
}

function parseV2(json: unknown, outputs: RemoteSpec['outputs'], rows: number, who: string): Tensors {
  const outs = (json as { outputs?: unknown })?.outputs;
  if (!Array.isArray(outs)) throw new RemoteAnswerError(`${who}: the answer has no "outputs" array`);
  const res: Tensors = {};
  for (const o of outputs) {
    const t = outs.find((x: { name?: unknown }) => x?.name === o.name) as { data?: unknown } | undefined;
    if (!t) throw new RemoteAnswerError(`${who}: the answer has no output ${JSON.stringify(o.name)}`);
    res[o.name] = { type: 'float32', data: numbers(t.data, rows * o.width, `${who}: output ${o.name}`), dims: [rows, o.width] };
  }
  return res;
}

function parseTf(json: unknown, outputs: RemoteSpec['outputs'], rows: number, who: string): Tensors {
  const body = json as { outputs?: unknown; predictions?: unknown };
  const raw = body?.outputs ?? body?.predictions;
  if (raw === undefined) throw new RemoteAnswerError(`${who}: the answer has neither "outputs" nor "predictions"`);
  const res: Tensors = {};
  for (const o of outputs) {
    // One output: the value is the tensor itself; several: an object keyed by output name.
    const v = outputs.length === 1 && Array.isArray(raw) ? raw : (raw as Record<string, unknown>)?.[o.name];
    res[o.name] = { type: 'float32', data: numbers(Array.isArray(v) ? v.flat(4) : v, rows * o.width, `${who}: output ${o.name}`), dims: [rows, o.width] };
  }
  return res;
}

function numbers(v: unknown, n: number, where: string): Float32Array {
  if (!Array.isArray(v)) throw new RemoteAnswerError(`${where}: expected an array of ${n} numbers`);
  if (v.length !== n) throw new RemoteAnswerError(`${where}: ${v.length} values for ${n} expected`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (typeof v[i] !== 'number') throw new RemoteAnswerError(`${where}: value ${i} is ${JSON.stringify(v[i])}, not a number`);
    out[i] = v[i];
  }
  return out;
}
