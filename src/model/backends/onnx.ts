// In-process ONNX Runtime: one session per model version per process, loaded once and reused,
// with intra-op threads from the project's thread budget.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { ConfigError, InputError } from '../../core/errors.ts';
import { decodeModel, node, onnx, valueInfo } from '../onnx/build.ts';
import type { TensorPlan } from '../features/compile.ts';
import type { ModelSig, TensorSig } from '../onnx/inspect.ts';
import type { Backend, Tensors } from './backend.ts';

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** Suffix of the feature-major input that a Transpose node turns into the model's input. */
export const COLUMNS_SUFFIX = '__columns';

/**
 * The model with a Transpose in front of each named float input: the graph takes `<name>__columns`
 * [width, N] and feeds `<name>` [N, width]. The batch reader then copies whole DuckDB column
 * vectors (one memcpy each) instead of interleaving values in JavaScript.
 */
export function withColumnInputs(bytes: Uint8Array, names: string[]): Uint8Array {
  const m = decodeModel(bytes);
  const g = m.graph as InstanceType<typeof onnx.GraphProto>;
  for (const name of names) {
    const i = g.input.findIndex((v) => v.name === name);
    if (i < 0) throw new ConfigError(`model has no input ${name}`);
    const dims = g.input[i]!.type?.tensorType?.shape?.dim ?? [];
    const width = dims[1]?.dimValue;
    g.input[i] = onnx.ValueInfoProto.create(valueInfo(name + COLUMNS_SUFFIX, 'float32', [width == null ? null : Number(width), null]));
    g.node.unshift(onnx.NodeProto.create(node('Transpose', [name + COLUMNS_SUFFIX], [name], { perm: { ints: [1, 0] } })));
  }
  return onnx.ModelProto.encode(m).finish();
}

/** Session options for `threads` intra-op threads (also the worker thread's, onnx-thread.ts). */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  // No spinning between runs: ORT's idle threads would burn the cores DuckDB is reading the next batch on.
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** The shared session for a model file, keyed by its sha256, thread count and column inputs. */
export function sessionFor(path: string, sha256: string, threads: number, columnInputs: string[] = []): Promise<ort.InferenceSession> {
  const key = `${sha256}|${threads}|${columnInputs.join(',')}`;
  let s = sessions.get(key);
  if (!s) {
    const opts = sessionOptions(threads);
    const create = columnInputs.length ? ort.InferenceSession.create(withColumnInputs(readFileSync(path), columnInputs), opts) : ort.InferenceSession.create(path, opts);
    s = create.catch((e: Error) => {
      sessions.delete(key);
      throw new InputError(`ONNX Runtime cannot load ${path}: ${e.message.split('\n')[0]}`, { cause: e, hint: 'check that the file is a valid ONNX model for opset ≤ 21' });
    });
    sessions.set(key, s);
  }
  return s;
}

export class OnnxBackend implements Backend {
  readonly name = 'onnxruntime';
  private constructor(private readonly session: ort.InferenceSession, private readonly outputs: string[]) {}

  static async open(path: string, sha256: string, threads: number, outputs?: string[], columnInputs: string[] = []): Promise<OnnxBackend> {
    const s = await sessionFor(path, sha256, threads, columnInputs);
    return new OnnxBackend(s, outputs ?? [...s.outputNames]);
  }

  async run(inputs: Tensors): Promise<Tensors> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[t.layout === 'columns' ? name + COLUMNS_SUFFIX : name] = new ort.Tensor(t.type, t.data, t.dims);
    const res = await this.session.run(feeds, this.outputs);
    const out: Tensors = {};
    for (const name of this.outputs) {
      const t = res[name]!;
      if (t.type !== 'float32' && t.type !== 'int64') throw new InputError(`model output ${name} is ${t.type}; sluice writes float32 and int64 outputs`);
      out[name] = { type: t.type, data: t.data as Float32Array | BigInt64Array, dims: [...t.dims] };
    }
    return out;
  }

  async close(): Promise<void> {
    // Sessions are shared per process and kept for reuse; nothing to free per backend.
  }
}

/**
 * Checks a model's inputs against the compiled feature spec: the same names, element types and
 * per-row shapes (the first dimension is the batch). Throws one ConfigError listing every mismatch.
 */
export function checkSignature(sig: ModelSig, plans: TensorPlan[], where: string): void {
  const problems: string[] = [];
  for (const p of plans) {
    const m = sig.inputs.find((i) => i.name === p.name);
    if (!m) {
      problems.push(`the spec feeds input ${JSON.stringify(p.name)}, the model has none (it has ${sig.inputs.map((i) => i.name).join(', ')})`);
      continue;
    }
    if (m.type !== p.dtype) problems.push(`input ${p.name}: the model expects ${m.type}, the spec makes ${p.dtype}`);
    const want = [null, ...p.rowShape];
    if (!shapeFits(m, want)) problems.push(`input ${p.name}: the model expects shape [${m.dims.map((d) => d ?? '?').join(', ')}], the spec makes [N, ${p.rowShape.join(', ')}]`);
  }
  for (const m of sig.inputs) if (!plans.some((p) => p.name === m.name)) problems.push(`the model needs input ${JSON.stringify(m.name)}, the spec does not make it`);
  if (problems.length) throw new ConfigError(`${where}: the model does not match its feature spec:\n  - ${problems.join('\n  - ')}`, { hint: 'fix the feature spec (input names, dtype, widths) or export the model with matching inputs' });
}

function shapeFits(m: TensorSig, want: (number | null)[]): boolean {
  if (m.dims.length !== want.length) return false;
  return m.dims.every((d, i) => (i === 0 ? typeof d !== 'number' || d === -1 : typeof d !== 'number' || d === want[i]));
}
