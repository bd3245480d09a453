// A real HTTP model server for tests: node:http in front of ONNX Runtime, speaking the Open
// Inference Protocol v2 and TensorFlow Serving's REST :predict, with switchable faults
// (503 for the first n requests, a delay, garbage answers) to test the remote backend against.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ort from 'onnxruntime-node';

export interface Faults {
  unavailable: number;
  delayMs: number;
  /** 'text': not JSON at all; 'short': JSON with too few values */
  garbage: false | 'text' | 'short';
}

export interface ModelServer {
  url: string;
  faults: Faults;
  /** requests received, and the row count of each inference request */
  requests: number;
  batchRows: number[];
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startModelServer(modelPath: string, name: string): Promise<ModelServer> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  let inFlight = 0;
  const state: ModelServer = { url: '', faults: { unavailable: 0, delayMs: 0, garbage: false }, requests: 0, batchRows: [], maxInFlight: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      state.requests++;
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      try {
        if (state.faults.unavailable > 0) {
          state.faults.unavailable--;
          res.writeHead(503).end('busy');
          return;
        }
        if (state.faults.delayMs) await new Promise((r) => setTimeout(r, state.faults.delayMs));
        if (state.faults.garbage) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(state.faults.garbage === 'text' ? '<html>oops' : '{"outputs": [{"name": "y", "data": [0.5, 0.25]}]}');
          return;
        }
        const v2 = req.url === `/v2/models/${name}/infer`;
        const tf = req.url === `/v1/models/${name}:predict`;
        if (!v2 && !tf) {
          res.writeHead(404).end();
          return;
        }
        const json = JSON.parse(body);
        const feeds: Record<string, ort.Tensor> = {};
        if (v2) for (const i of json.inputs) feeds[i.name] = new ort.Tensor('float32', Float32Array.from(i.data), i.shape);
        else for (const [k, rows] of Object.entries(json.inputs as Record<string, number[][]>)) feeds[k] = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
        const rows = Object.values(feeds)[0]!.dims[0]!;
        state.batchRows.push(rows);
        const out = await session.run(feeds);
        const y = out[session.outputNames[0]!]!;
        const data = Array.from(y.data as Float32Array);
        const answer = v2
          ? { model_name: name, outputs: [{ name: session.outputNames[0], shape: y.dims, datatype: 'FP32', data }] }
          : { outputs: Array.from({ length: rows }, (_, r) => data.slice(r * (y.dims[1] as number), (r + 1) * (y.dims[1] as number))) };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      } finally {
        inFlight--;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    // A delayed handler may still be running: let it finish before the session goes.
    for (let i = 0; i < 200 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await session.release();
  };
  return state;
}
