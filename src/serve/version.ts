// One model version being served: its backend (in-process ONNX Runtime, or a remote v2 / TF
// Serving endpoint in proxy mode), its compiled feature spec and its own batcher. Raw fields are
// turned into tensors per batch with the compiled spec (the same transform as batch inference),
// never per request, so the event loop does the column work once for many requests.
import type { Project } from '../core/project.ts';
import { type Backend, sliceRows, type Tensor, type Tensors } from '../model/backends/backend.ts';
import { OnnxBackend } from '../model/backends/onnx.ts';
import { RemoteBackend } from '../model/backends/remote.ts';
import { compileSpec, type CompiledSpec } from '../model/features/compile.ts';
import type { ModelMeta } from '../model/model-yaml.ts';
import { loadModel } from '../model/registry.ts';
import { Batcher, type BatchOptions } from './batcher.ts';

/** Work for one request (or one arm's share of it): raw fields through the spec, or model tensors (v2). */
export type Work = { kind: 'fields'; rows: Record<string, unknown>[] } | { kind: 'tensors'; tensors: Tensors; rows: number };

export interface WorkResult {
  /** this job's rows of every output */
  outputs: Tensors;
  /** row → reason, for rows whose features failed (their outputs are meaningless) */
  failed: ReadonlyMap<number, string>;
}

/** The failures of a job with none (most jobs): one empty map, read-only, shared. */
const NO_FAILURES: ReadonlyMap<number, string> = new Map();

export interface IoSig {
  name: string;
  dtype: 'float32' | 'int64';
  /** per-row shape (dims after the batch dimension) */
  rowShape: number[];
  rowSize: number;
}

export interface VersionOptions {
  threads: number;
  batch: BatchOptions;
  /** proxy mode: score on a remote server instead of in-process */
  backend?: { url: string; protocol: 'v2' | 'tfserving'; timeoutMs?: number };
}

function sigOf(t: ModelMeta['inputs'][number]): IoSig {
  const rowShape = t.dims.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  return { name: t.name, dtype: t.type === 'int64' ? 'int64' : 'float32', rowShape, rowSize: rowShape.reduce((a, b) => a * b, 1) };
}

export class ServedVersion {
  readonly batcher: Batcher<Work, WorkResult>;
  readonly inputs: IoSig[];
  readonly outputs: IoSig[];
  /** columns the spec reads as images: online they come as TF Serving's {"b64": …}, never as paths */
  private readonly imageColumns: string[];

  private constructor(
    readonly name: string,
    readonly version: number,
    readonly meta: ModelMeta,
    readonly compiled: CompiledSpec | undefined,
    private readonly backend: Backend,
    batch: BatchOptions,
  ) {
    this.inputs = meta.inputs.map(sigOf);
    this.outputs = meta.outputs.map(sigOf);
    this.imageColumns = (compiled?.spec.inputs ?? []).flatMap((x) => ('image' in x ? [x.image.column] : []));
    this.batcher = new Batcher((inputs, rows) => this.runBatch(inputs, rows), batch);
  }

  get ref(): string {
    return `${this.name}@${this.version}`;
  }

  /** Loads `ref` from the registry (sha256 checked) and opens its backend. */
  static async open(project: Project, ref: string, o: VersionOptions): Promise<ServedVersion> {
    const m = await loadModel(project, ref);
    const compiled = m.meta.features ? compileSpec(m.meta.features, { root: project.root }) : undefined;
    const outs = m.meta.outputs.map(sigOf);
    const backend: Backend = o.backend
      ? new RemoteBackend({
          url: o.backend.url,
          protocol: o.backend.protocol,
          model: m.meta.name,
          outputs: outs.map((s) => ({ name: s.name, width: s.rowSize })),
          maxBatch: Math.max(1, o.batch.maxBatch),
          concurrency: o.batch.concurrency ?? 4,
          // A server answering requests cannot wait through long backoffs: one retry, the request's deadline.
          retries: 1,
          timeoutMs: o.backend.timeoutMs ?? 10_000,
        })
      : await OnnxBackend.open(m.path, m.meta.sha256, o.threads, outs.map((s) => s.name));
    const batch = o.backend ? { ...o.batch, concurrency: o.batch.concurrency ?? 4 } : o.batch;
    return new ServedVersion(m.meta.name, m.meta.version, m.meta, compiled, backend, batch);
  }

  /** Queues work; resolves with its outputs (rejects with 503 / 504 errors from the batcher). */
  score(work: Work, timeoutMs: number): Promise<WorkResult> {
    return this.batcher.submit(work, work.kind === 'fields' ? work.rows.length : work.rows, timeoutMs);
  }

  /** One batch of zeros through the backend, so the first real request does not pay for lazy init. */
  async warm(): Promise<void> {
    const t: Tensors = {};
    for (const s of this.inputs) t[s.name] = zeros(s, 1);
    await this.backend.run(t, 1);
  }

  /** Waits for queued and running batches, then releases the backend. */
  async close(): Promise<void> {
    await this.batcher.drain();
    await this.backend.close();
  }

  private async runBatch(jobs: Work[], rows: number): Promise<WorkResult[]> {
    const fields = jobs.some((j) => j.kind === 'fields');
    const tensors = jobs.some((j) => j.kind === 'tensors');
    if (fields && tensors) {
      // Rare (v2 and TF requests in one batch): run the two kinds as two backend calls.
      const idx = jobs.map((j, i) => [j, i] as const);
      const a = idx.filter(([j]) => j.kind === 'fields');
      const b = idx.filter(([j]) => j.kind === 'tensors');
      const [ra, rb] = await Promise.all([this.runBatch(a.map(([j]) => j), countRows(a.map(([j]) => j))), this.runBatch(b.map(([j]) => j), countRows(b.map(([j]) => j)))]);
      const out: WorkResult[] = new Array(jobs.length);
      a.forEach(([, i], k) => (out[i] = ra[k]!));
      b.forEach(([, i], k) => (out[i] = rb[k]!));
      return out;
    }
    let inputs: Tensors;
    let failed = new Map<number, string>();
    if (fields) {
      const res = await this.featurize(jobs as Extract<Work, { kind: 'fields' }>[], rows);
      inputs = res.inputs;
      failed = res.failed;
    } else inputs = concat(this.inputs, jobs as Extract<Work, { kind: 'tensors' }>[], rows);
    const outputs = await this.backend.run(inputs, rows);
    const entries = Object.entries(outputs);
    const results: WorkResult[] = new Array(jobs.length);
    let at = 0;
    for (let ji = 0; ji < jobs.length; ji++) {
      const j = jobs[ji]!;
      const n = j.kind === 'fields' ? j.rows.length : j.rows;
      const o: Tensors = {};
      for (const [k, t] of entries) o[k] = sliceRows(t, at, at + n);
      let f: ReadonlyMap<number, string> = NO_FAILURES;
      if (failed.size) {
        const m = new Map<number, string>();
        for (let i = 0; i < n; i++) {
          const r = failed.get(at + i);
          if (r !== undefined) m.set(i, r);
        }
        f = m;
      }
      results[ji] = { outputs: o, failed: f };
      at += n;
    }
    return results;
  }

  /** The batch's rows as columns, through the compiled spec: one call for every request in the batch. */
  private async featurize(jobs: Extract<Work, { kind: 'fields' }>[], n: number): Promise<{ inputs: Tensors; failed: Map<number, string> }> {
    const spec = this.compiled!;
    const cols: Record<string, unknown[]> = {};
    for (const c of spec.columns) cols[c] = new Array(n);
    const bad = new Map<number, string>();
    let i = 0;
    for (const j of jobs) {
      for (const r of j.rows) {
        for (const c of spec.columns) cols[c]![i] = r[c] ?? null;
        for (const c of this.imageColumns) cols[c]![i] = imageValue(r[c], c, i, bad);
        i++;
      }
    }
    const { tensors, failed } = await spec.batch(cols, n);
    for (const [row, reason] of bad) failed.set(row, reason);
    const inputs: Tensors = {};
    for (const p of spec.inputs) inputs[p.name] = { type: p.dtype, data: tensors[p.name]!, dims: [n, ...p.rowShape] };
    return { inputs, failed };
  }
}

/**
 * An image field as bytes: TF Serving's binary encoding `{"b64": "…"}`. A string would be read as
 * a path on the server, which a client must not choose: it fails the row instead.
 */
function imageValue(v: unknown, column: string, row: number, bad: Map<number, string>): unknown {
  const b64 = v !== null && typeof v === 'object' ? (v as { b64?: unknown }).b64 : undefined;
  if (typeof b64 === 'string') return Buffer.from(b64, 'base64');
  bad.set(row, `field ${column}: expected image bytes as {"b64": "<base64>"}, got ${v === null || v === undefined ? 'nothing' : typeof v}`);
  return null;
}

function countRows(jobs: Work[]): number {
  return jobs.reduce((a, j) => a + (j.kind === 'fields' ? j.rows.length : j.rows), 0);
}

function zeros(s: IoSig, n: number): Tensor {
  return { type: s.dtype, data: s.dtype === 'int64' ? new BigInt64Array(n * s.rowSize) : new Float32Array(n * s.rowSize), dims: [n, ...s.rowShape] };
}

/** The tensors of several v2 requests stacked along the batch dimension. */
function concat(sigs: IoSig[], jobs: Extract<Work, { kind: 'tensors' }>[], rows: number): Tensors {
  if (jobs.length === 1) return jobs[0]!.tensors;
  const out: Tensors = {};
  for (const s of sigs) {
    const t = zeros(s, rows);
    let at = 0;
    for (const j of jobs) {
      const d = j.tensors[s.name]!.data;
      (t.data as Float32Array).set(d as Float32Array, at);
      at += d.length;
    }
    out[s.name] = t;
  }
  return out;
}
