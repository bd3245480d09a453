// The worker-thread side of onnx-thread.ts: one ONNX Runtime session, jobs strictly in order. A
// job takes a set's shared base rows, copies them once into this thread's own buffers
// (onnxruntime-node does not take shared memory), and for each variant writes the variant's values
// into every row and runs the model, leaving the output rows in the set's shared outputs. Plain
// JavaScript: a worker thread starts without the TypeScript loader (tsx, vitest) the sources need.
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
/** slot sets by id: { output, inputs: [{name, type, rowShape, rowSize}], sets: [{ base: [shared], outputs: [shared] }], variants, local } */
const slotSets = new Map();

// Jobs run strictly one after another (a handler awaits session.run, so without the chain the
// next message would start its runs in between).
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(() => handle(m));
});

async function handle(m) {
  if (m.open) {
    slotSets.set(m.open, { ...m.spec, local: m.spec.inputs.map((t, i) => own({ type: t.type, data: m.spec.sets[0].base[i] })) });
    return;
  }
  if (m.close) {
    slotSets.delete(m.close);
    return;
  }
  const s = slotSets.get(m.slots);
  const set = s.sets[m.set];
  const dims = [];
  try {
    const local = s.inputs.map((t, i) => {
      const size = m.n * t.rowSize;
      const l = s.local[i].subarray(0, size);
      l.set(set.base[i].subarray(0, size));
      return l;
    });
    /** per input, the positions the last variant wrote */
    const written = s.inputs.map(() => null);
    for (const [k, v] of m.variants.entries()) {
      const feeds = {};
      s.inputs.forEach((t, i) => {
        const f = s.variants[v][i];
        // Positions the last variant wrote and this one does not are restored from the base rows
        // (never the case in scoring, where every context writes the same positions).
        const w = written[i];
        if (w && !(f && sameOffsets(w, f.offsets))) for (const o of w) for (let at = o; at < m.n * t.rowSize; at += t.rowSize) local[i][at] = set.base[i][at];
        if (f) (local[i] instanceof Float32Array ? fillRows : fillRowsAny)(local[i], m.n, t.rowSize, f.offsets, f.values);
        written[i] = f ? f.offsets : null;
        feeds[t.name] = new ort.Tensor(t.type, local[i], [m.n, ...t.rowShape]);
      });
      const out = (await session.run(feeds, [s.output]))[s.output];
      const into = set.outputs[k];
      if (out.type !== 'float32' || out.data.length > into.length) throw new Error(`output ${s.output} is ${out.type} [${out.dims.join(', ')}], expected float32 with at most ${into.length} values`);
      into.set(out.data);
      dims.push([...out.dims]);
    }
    parentPort.postMessage({ id: m.id, dims });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e?.message ?? e) });
  }
}

function sameOffsets(a, b) {
  return a === b || (a.length === b.length && a.every((o, j) => o === b[j]));
}

// `d[i * rs + offsets[j]] = values[j]` for every row i < n and every j, up to eight positions per
// pass held in locals: the plain double loop costs about 5× as much (8192 rows × 8 values: 250 µs
// vs 35–70 µs), one strided pass per position about 3×.
function fillRows(d, n, rs, offsets, values) {
  const end = n * rs;
  let j = 0;
  for (; j + 8 <= offsets.length; j += 8) {
    const [o0, o1, o2, o3, o4, o5, o6, o7] = offsets.slice(j, j + 8);
    const [v0, v1, v2, v3, v4, v5, v6, v7] = values.slice(j, j + 8);
    for (let at = 0; at < end; at += rs) {
      d[at + o0] = v0, d[at + o1] = v1, d[at + o2] = v2, d[at + o3] = v3;
      d[at + o4] = v4, d[at + o5] = v5, d[at + o6] = v6, d[at + o7] = v7;
    }
  }
  for (; j + 4 <= offsets.length; j += 4) {
    const [o0, o1, o2, o3] = offsets.slice(j, j + 4);
    const [v0, v1, v2, v3] = values.slice(j, j + 4);
    for (let at = 0; at < end; at += rs) d[at + o0] = v0, d[at + o1] = v1, d[at + o2] = v2, d[at + o3] = v3;
  }
  for (; j < offsets.length; j++) {
    const v = values[j];
    for (let at = offsets[j]; at < end; at += rs) d[at] = v;
  }
}

/** The same for int64 inputs (BigInt64Array), kept apart so fillRows stays monomorphic. */
function fillRowsAny(d, n, rs, offsets, values) {
  for (let j = 0; j < offsets.length; j++) {
    const v = values[j];
    for (let at = offsets[j]; at < n * rs; at += rs) d[at] = v;
  }
}
