// The worker-thread side of onnx-thread.ts: one ONNX Runtime session, jobs in order.
// Inputs are read from the caller's shared slots and copied into this thread's own buffers
// (onnxruntime-node does not take shared memory); the output rows are written back into the
// slot's shared output. Plain JavaScript: a worker thread starts without the TypeScript loader
// (tsx, vitest) that the rest of the sources need.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { path, options } = workerData;
let session;
try {
  session = await ort.InferenceSession.create(path, options);
  parentPort.postMessage({ ready: true });
} catch (e) {
  parentPort.postMessage({ ready: false, error: String(e?.message ?? e) });
}

const own = (t) => (t.type === 'int64' ? new BigInt64Array(t.data.length) : new Float32Array(t.data.length));
/** slot sets by id: per slot its shared inputs and output, and this thread's copy of one slot's inputs */
const sets = new Map();

// Jobs run strictly one after another (a handler awaits session.run, so without the chain the
// next message would start its runs in between).
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(() => handle(m));
});

async function handle(m) {
  if (m.open) {
    // Runs are one at a time: one set of this thread's own buffers serves every slot.
    sets.set(m.open, { output: m.output, slots: m.slots, local: m.slots[0].inputs.map(own) });
    return;
  }
  if (m.close) {
    sets.delete(m.close);
    return;
  }
  // One message runs several slots in a row and one reply answers them all: a message each way
  // per run cost about a fifth of the run itself.
  const set = sets.get(m.set);
  const dims = [];
  try {
    for (const at of m.slots) {
      const slot = set.slots[at];
      const feeds = {};
      slot.inputs.forEach((t, i) => {
        const size = m.n * t.rowSize;
        const local = set.local[i].subarray(0, size);
        local.set(t.data.subarray(0, size));
        feeds[t.name] = new ort.Tensor(t.type, local, [m.n, ...t.rowShape]);
      });
      const out = (await session.run(feeds, [set.output]))[set.output];
      if (out.type !== 'float32' || out.data.length > slot.output.length) throw new Error(`output ${set.output} is ${out.type} [${out.dims.join(', ')}], expected float32 with at most ${slot.output.length} values`);
      slot.output.set(out.data);
      dims.push([...out.dims]);
    }
    parentPort.postMessage({ id: m.id, dims });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e?.message ?? e) });
  }
}
