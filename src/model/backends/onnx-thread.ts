// In-process ONNX Runtime on a worker thread: onnxruntime-node's `session.run` computes on the
// calling thread, so on the main thread nothing else (reading the next batch, ranking the last
// scores) runs meanwhile. With the model on its own thread a caller keeps a job queued in shared
// memory and prepares the next while one runs. Same session options as OnnxBackend.
import { Worker } from 'node:worker_threads';
import { InputError } from '../../core/errors.ts';
import { sessionOptions } from './onnx.ts';

export interface SlotInput {
  name: string;
  type: 'float32' | 'int64';
  /** one row's shape (the batch dimension comes first) */
  rowShape: number[];
}

type Reply = { id: number; dims?: number[][]; error?: string };

const threads = new Map<string, Promise<OnnxThread>>();

export class OnnxThread {
  private readonly jobs = new Map<number, { resolve(dims: number[][]): void; reject(e: Error): void }>();
  private nextId = 1;

  private constructor(private readonly worker: Worker, readonly path: string, private readonly key: string) {
    worker.on('message', (m: Reply) => this.reply(m));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the ONNX Runtime thread exited with code ${code}`)));
    worker.unref();
  }

  /** The shared thread for a model file and intra-op thread count, started on first use. */
  static open(path: string, sha256: string, intraOpThreads: number): Promise<OnnxThread> {
    const key = `${sha256}|${intraOpThreads}`;
    let t = threads.get(key);
    if (!t) {
      t = new Promise<OnnxThread>((resolve, reject) => {
        const worker = new Worker(new URL('./onnx-thread-worker.js', import.meta.url), { workerData: { path, options: sessionOptions(intraOpThreads) } });
        worker.once('message', (m: { ready: boolean; error?: string }) => {
          if (m.ready) return resolve(new OnnxThread(worker, path, key));
          void worker.terminate();
          reject(new InputError(`ONNX Runtime cannot load ${path}: ${m.error?.split('\n')[0]}`, { hint: 'check that the file is a valid ONNX model for opset ≤ 21' }));
        });
        worker.once('error', reject);
      });
      t.catch(() => threads.delete(key));
      threads.set(key, t);
    }
    return t;
  }

  /**
   * Shared buffers for broadcast jobs: `sets` sets of base rows (up to `batchSize` rows per input),
   * each run against up to `perJob` variants per job; a variant writes its values at fixed
   * positions of every row (say, one context's features beside a batch of candidates). The
   * output is float32, `outputWidth` values per row.
   * @example const s = thread.slots([{ name: 'x', type: 'float32', rowShape: [3] }], 'y', 1, 8192, 2, 4, [[{ offsets: [1], values: [0.5] }]]); s.base[0][0].set(rows); const [y] = await s.run(0, n, [0]);
   */
  slots(inputs: SlotInput[], output: string, outputWidth: number, batchSize: number, sets: number, perJob: number, variants: Variant[]): ThreadSlots {
    return new ThreadSlots(this, inputs, output, outputWidth, batchSize, sets, perJob, variants);
  }

  /** @internal */
  post(message: object): void {
    this.worker.postMessage(message);
  }

  /** @internal Posts a job; resolves with its outputs' dims, one per slot run. */
  job(message: object): Promise<number[][]> {
    const id = this.nextId++;
    return new Promise<number[][]>((resolve, reject) => {
      if (this.jobs.size === 0) this.worker.ref(); // a queued job keeps the process alive
      this.jobs.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private reply(m: Reply): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    this.jobs.delete(m.id);
    if (this.jobs.size === 0) this.worker.unref();
    if (m.error !== undefined) job.reject(new InputError(`ONNX Runtime could not run ${this.path}: ${m.error.split('\n')[0]}`));
    else job.resolve(m.dims!);
  }

  private fail(e: Error): void {
    threads.delete(this.key);
    for (const job of this.jobs.values()) job.reject(e);
    this.jobs.clear();
  }
}

let nextSet = 1;

/** Per input: the positions of a row a variant sets and their values (null: it leaves the input as it is). */
export type Variant = ({ offsets: number[]; values: number[] | bigint[] } | null)[];

export class ThreadSlots {
  /** per set, per input: shared base rows [batchSize, ...rowShape], row-major */
  readonly base: (Float32Array | BigInt64Array)[][];
  /** per set, per variant of a job: the shared output, batchSize × outputWidth values */
  readonly outputs: Float32Array[][];
  private readonly id = nextSet++;

  constructor(private readonly thread: OnnxThread, specs: SlotInput[], output: string, outputWidth: number, batchSize: number, sets: number, perJob: number, variants: Variant[]) {
    const inputs = specs.map((s) => ({ ...s, rowSize: s.rowShape.reduce((a, b) => a * b, 1) }));
    const shared = (s: (typeof inputs)[number]) => (s.type === 'int64' ? new BigInt64Array(new SharedArrayBuffer(batchSize * s.rowSize * 8)) : new Float32Array(new SharedArrayBuffer(batchSize * s.rowSize * 4)));
    this.base = Array.from({ length: sets }, () => inputs.map(shared));
    this.outputs = Array.from({ length: sets }, () => Array.from({ length: perJob }, () => new Float32Array(new SharedArrayBuffer(batchSize * outputWidth * 4))));
    thread.post({ open: this.id, spec: { output, inputs, variants, sets: this.base.map((base, k) => ({ base, outputs: this.outputs[k] })) } });
  }

  /** Runs set `set`'s first `n` base rows once per variant; resolves with their output rows (valid until the set's next job). */
  async run(set: number, n: number, variants: number[]): Promise<Float32Array[]> {
    const dims = await this.thread.job({ slots: this.id, set, n, variants });
    return variants.map((_, k) => this.outputs[set]![k]!.subarray(0, dims[k]!.reduce((a, b) => a * b, 1)));
  }

  close(): void {
    this.thread.post({ close: this.id });
  }
}
