// In-process ONNX Runtime on a worker thread: onnxruntime-node's `session.run` computes on the
// calling thread, so on the main thread nothing else (reading the next batch, ranking the last
// scores) runs meanwhile. With the model on its own thread a caller keeps a few jobs queued in
// shared-memory slots and prepares the next while one runs. Same session options as OnnxBackend.
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
   * `count` slots of shared input buffers for up to `batchSize` rows and one float32 output of
   * `outputWidth` values per row.
   * @example const s = thread.slots([{ name: 'x', type: 'float32', rowShape: [32] }], 'y', 1, 8192, 2); s.inputs[0][0].set(rows); const [y] = await s.run([0], 8192);
   */
  slots(inputs: SlotInput[], output: string, outputWidth: number, batchSize: number, count: number): ThreadSlots {
    return new ThreadSlots(this, inputs, output, outputWidth, batchSize, count);
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

export class ThreadSlots {
  /** per slot, per input: a shared [batchSize, ...rowShape] buffer, row-major */
  readonly inputs: (Float32Array | BigInt64Array)[][];
  /** per slot: the shared output, batchSize × outputWidth values */
  readonly outputs: Float32Array[];
  private readonly id = nextSet++;

  constructor(private readonly thread: OnnxThread, specs: SlotInput[], output: string, outputWidth: number, batchSize: number, count: number) {
    const shared = (s: SlotInput) => {
      const size = batchSize * s.rowShape.reduce((a, b) => a * b, 1);
      return s.type === 'int64' ? new BigInt64Array(new SharedArrayBuffer(size * 8)) : new Float32Array(new SharedArrayBuffer(size * 4));
    };
    this.inputs = Array.from({ length: count }, () => specs.map(shared));
    this.outputs = Array.from({ length: count }, () => new Float32Array(new SharedArrayBuffer(batchSize * outputWidth * 4)));
    const slots = this.inputs.map((ins, i) => ({
      inputs: ins.map((data, j) => ({ name: specs[j]!.name, type: specs[j]!.type, rowShape: specs[j]!.rowShape, rowSize: specs[j]!.rowShape.reduce((a, b) => a * b, 1), data })),
      output: this.outputs[i],
    }));
    thread.post({ open: this.id, output, slots });
  }

  /** Runs the model on the first `n` rows of each slot in turn; resolves with their output rows (valid until a slot's next run). */
  async run(slots: number[], n: number): Promise<Float32Array[]> {
    const dims = await this.thread.job({ set: this.id, slots, n });
    return slots.map((s, i) => this.outputs[s]!.subarray(0, dims[i]!.reduce((a, b) => a * b, 1)));
  }

  close(): void {
    this.thread.post({ close: this.id });
  }
}
