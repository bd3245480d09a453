// Benchmark `serve`: `wrk` on loopback against `sluice serve` in a child process, the server pinned
// to core 0 and wrk to core 1 (`taskset`). Anchor: a bare Fastify endpoint returning a constant,
// loaded the same way in the same run. Figures:
//  1. TF Serving path (raw fields → feature spec → MLP 32→64→1, predictions logged to the file
//     event log through LogWriter): max request rate vs the bare endpoint (goal ≥ 0.4), and p99 at
//     70% of that max rate (goal ≤ 15 ms). wrk2 is not installed: the rate is paced with wrk's Lua
//     `delay()` (each connection waits so that the connections together send ≈ the target rate).
//  2. Heavy MLP 256→1024→1024→1 over v2 infer, 64 connections: batching on vs off (max batch 1),
//     goal ≥ 3× the throughput with p99 ≤ 2× the unbatched p99. Both arms: the same server, core
//     and ONNX Runtime thread count (1); only max batch differs.
// With each load the server's CPU time per answered request is printed (utime + stime from /proc,
// over the load): on a shared machine wrk's core can be starved and leave the server idle, so next
// to the request rates this shows the work per request itself (for batching: what it saves).
// The same file is the server child: `run-ts.js bench/serve.bench.ts --serve-child '<json>'`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Project } from '../src/core/project.ts';
import { encodeModel, model, node, tensor, valueInfo } from '../src/model/onnx/build.ts';
import { mlpModel, mlpWeights } from '../src/model/onnx/build.ts';
import { addModel } from '../src/model/registry.ts';
import { median, type Bench, type Measure } from './lib.ts';

interface ChildConfig {
  mode: 'bare' | 'sluice';
  project?: string;
  model?: string;
  maxBatch?: number;
  maxDelayUs?: number;
  log?: boolean;
}

const ROOT = join(import.meta.dirname, '..');

/** An MLP in → h1 (ReLU) → h2 (ReLU) → 1 with fixed pseudo-random weights. */
function deepMlp(sizes: [number, number, number, number], seed: number): Uint8Array {
  let s = seed;
  const rnd = (n: number, scale: number) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * scale);
  const [i, h1, h2, o] = sizes;
  return encodeModel(
    model({
      name: 'deep-mlp',
      node: [
        node('MatMul', ['x', 'w1'], ['a1']),
        node('Add', ['a1', 'b1'], ['z1']),
        node('Relu', ['z1'], ['r1']),
        node('MatMul', ['r1', 'w2'], ['a2']),
        node('Add', ['a2', 'b2'], ['z2']),
        node('Relu', ['z2'], ['r2']),
        node('MatMul', ['r2', 'w3'], ['a3']),
        node('Add', ['a3', 'b3'], ['y']),
      ],
      initializer: [
        tensor('w1', 'float32', [i, h1], rnd(i * h1, 0.1)),
        tensor('b1', 'float32', [h1], rnd(h1, 0.1)),
        tensor('w2', 'float32', [h1, h2], rnd(h1 * h2, 0.05)),
        tensor('b2', 'float32', [h2], rnd(h2, 0.1)),
        tensor('w3', 'float32', [h2, o], rnd(h2 * o, 0.05)),
        tensor('b3', 'float32', [o], rnd(o, 0.1)),
      ],
      input: [valueInfo('x', 'float32', [null, i])],
      output: [valueInfo('y', 'float32', [null, o])],
    }),
  );
}

async function child(c: ChildConfig): Promise<void> {
  if (c.mode === 'bare') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    // The same JSON body parsing as the server's routes, then a constant.
    app.post('/*', async () => ({ predictions: [[0.5]] }));
    console.log(`READY ${await app.listen({ host: '127.0.0.1', port: 0 })}`);
    return;
  }
  const project = await Project.open(c.project!, { threads: 1 });
  const { startServer } = await import('../src/serve/server.ts');
  const { FileEventLog } = await import('../src/log/file-log.ts');
  const { LogWriter } = await import('../src/log/writer.ts');
  const dir = join(c.project!, '.sluice', 'logs', `predictions-${process.pid}`);
  const writer = c.log ? await LogWriter.open(await FileEventLog.open(dir, 'predictions'), { spillDir: join(c.project!, '.sluice', 'spill', `p-${process.pid}`), idPrefix: 'bench' }) : undefined;
  const s = await startServer({
    project,
    model: c.model!,
    port: 0,
    batch: { maxBatch: c.maxBatch ?? 64, maxDelayUs: c.maxDelayUs ?? 0, queueLimit: 100_000 },
    timeoutMs: 30_000,
    ...(writer ? { log: writer } : {}),
    threads: 1,
  });
  console.log(`READY ${s.url}`);
}

if (process.argv[2] === '--serve-child') await child(JSON.parse(process.argv[3]!) as ChildConfig);

/** Starts a server child pinned to core 0; resolves with its URL. */
async function startChild(c: ChildConfig): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn('taskset', ['-c', '0', process.execPath, join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'bench', 'serve.bench.ts'), '--serve-child', JSON.stringify(c)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => l.startsWith('READY ') && resolve(l.slice(6)));
    proc.on('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { url, proc };
}

async function stopChild(p: ChildProcess): Promise<void> {
  await new Promise<void>((r) => {
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** the server's CPU time per answered request, µs */
  cpuUs: number;
}

/** CPU seconds (user + system, all threads) a process has used. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** wrk pinned to core 1: POSTs `body` to the server child `server`; `delayMs` > 0 paces each connection (Lua delay()). */
async function wrk(dir: string, server: { url: string; proc: ChildProcess }, path: string, body: string, connections: number, seconds: number, delayMs = 0): Promise<WrkResult> {
  const url = server.url;
  const cpu0 = cpuSeconds(server.proc.pid!);
  const script = join(dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n` +
      (delayMs > 0 ? `function delay() return ${delayMs.toFixed(3)} end\n` : ''),
  );
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url + path]);
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
  });
  const cpu = cpuSeconds(server.proc.pid!) - cpu0;
  rmSync(script, { force: true });
  const ms = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? Number(sockErr[1]) + Number(sockErr[2]) + Number(sockErr[3]) + Number(sockErr[4]) : 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50: ms('50'), p99: ms('99'), errors, cpuUs: (cpu * 1e6) / requests };
}

const f1 = (x: number) => x.toFixed(1);

export const bench: Bench = {
  name: 'serve: wrk on loopback, server on core 0, wrk on core 1',
  async run({ dir, quick, repeats, log }): Promise<Measure[]> {
    const seconds = quick ? 3 : 10;
    const root = join(dir, 'project');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    Project.init(root, 'bench-serve');
    const project = await Project.open(root, { threads: 1 });
    const F = Array.from({ length: 28 }, (_, j) => `f${j}`);
    const features = {
      inputs: [{ name: 'x', features: [...F.map((f) => ({ number: f, fill: 0, clip: [-10, 10] as [number, number] })), { category: 'country', hash: { buckets: 4 }, encode: 'one_hot' as const }] }],
    };
    writeFileSync(join(dir, 'ctr.onnx'), encodeModel(mlpModel(mlpWeights([32, 64, 1], 7))));
    await addModel(project, { file: join(dir, 'ctr.onnx'), name: 'ctr', features });
    writeFileSync(join(dir, 'deep.onnx'), deepMlp([256, 1024, 1024, 1], 11));
    await addModel(project, { file: join(dir, 'deep.onnx'), name: 'deep' });
    await project.close();

    const instance = Object.fromEntries([...F.map((f, j) => [f, (j % 7) * 0.37]), ['country', 'de']]);
    const tfBody = JSON.stringify({ instances: [instance] });
    const row = Array.from({ length: 256 }, (_, j) => ((j % 13) - 6) / 10);
    const v2Body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: row }] });
    const conns = 32;

    // Every server is up for the whole run (an idle one costs nothing); the loads alternate
    // anchor, ours, anchor, ours… so both see the same machine noise; figures are medians.
    const bare = await startChild({ mode: 'bare' });
    const tf = await startChild({ mode: 'sluice', project: root, model: 'ctr', maxBatch: 64, maxDelayUs: 0, log: true });
    const off = await startChild({ mode: 'sluice', project: root, model: 'deep', maxBatch: 1 });
    const on = await startChild({ mode: 'sluice', project: root, model: 'deep', maxBatch: 64, maxDelayUs: 0 });
    const runs = { bare: [] as WrkResult[], tf: [] as WrkResult[], paced: [] as WrkResult[], off: [] as WrkResult[], on: [] as WrkResult[] };
    const med = (rs: WrkResult[], k: keyof WrkResult) => median(rs.map((r) => r[k]));
    let meanBatch = NaN;
    try {
      for (let i = 0; i < repeats; i++) {
        // 1. Max rate: bare Fastify vs the TF path with feature spec and logging, same load.
        runs.bare.push(await wrk(dir, bare, '/v1/models/ctr:predict', tfBody, conns, seconds));
        runs.tf.push(await wrk(dir, tf, '/v1/models/ctr:predict', tfBody, conns, seconds));
        log(`bare Fastify: ${f1(runs.bare[i]!.rps)} req/s p50 ${f1(runs.bare[i]!.p50)} ms p99 ${f1(runs.bare[i]!.p99)} ms, ${runs.bare[i]!.cpuUs.toFixed(0)} µs CPU/req | TF path: ${f1(runs.tf[i]!.rps)} req/s p50 ${f1(runs.tf[i]!.p50)} ms p99 ${f1(runs.tf[i]!.p99)} ms, ${runs.tf[i]!.cpuUs.toFixed(0)} µs CPU/req (errors ${runs.tf[i]!.errors}; load ${loadavg()[0]!.toFixed(2)})`);
        // 2. Heavy MLP, 64 connections: batching off (max batch 1) vs on.
        runs.off.push(await wrk(dir, off, '/v2/models/deep/infer', v2Body, 64, seconds));
        runs.on.push(await wrk(dir, on, '/v2/models/deep/infer', v2Body, 64, seconds));
        const [o, n] = [runs.off[i]!, runs.on[i]!];
        log(`deep MLP batching off: ${f1(o.rps)} req/s p50 ${f1(o.p50)} ms p99 ${f1(o.p99)} ms, ${o.cpuUs.toFixed(0)} µs CPU/req | on: ${f1(n.rps)} req/s p50 ${f1(n.p50)} ms p99 ${f1(n.p99)} ms, ${n.cpuUs.toFixed(0)} µs CPU/req | on/off ${(n.rps / o.rps).toFixed(2)}× req/s, p99 ${(n.p99 / o.p99).toFixed(2)}×, CPU/req ${(o.cpuUs / n.cpuUs).toFixed(2)}× less (errors ${o.errors + n.errors}; load ${loadavg()[0]!.toFixed(2)})`);
      }
      // 3. p99 at 70% of the max rate: each connection waits so that together they send 0.7 × max.
      const target = 0.7 * med(runs.tf, 'rps');
      const delayMs = Math.max(0, (conns / target) * 1000 - med(runs.tf, 'p50'));
      for (let i = 0; i < repeats; i++) {
        runs.paced.push(await wrk(dir, tf, '/v1/models/ctr:predict', tfBody, conns, seconds, delayMs));
        log(`TF path paced to ${f1(target)} req/s (delay ${delayMs.toFixed(2)} ms/conn): got ${f1(runs.paced[i]!.rps)} req/s, p50 ${f1(runs.paced[i]!.p50)} ms, p99 ${f1(runs.paced[i]!.p99)} ms`);
      }
      // Rows per batch the batching server ran, over all its loads (its /metrics histogram).
      const m = await (await fetch(`${on.url}/metrics`)).text();
      const count = (k: string) => Number(new RegExp(`^sluice_batch_size_${k}\\{[^}]*\\} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
      meanBatch = count('sum') / count('count');
    } finally {
      for (const c of [bare, tf, off, on]) await stopChild(c.proc);
    }
    const bareMax = { rps: med(runs.bare, 'rps'), p99: med(runs.bare, 'p99') };
    const tfMax = { rps: med(runs.tf, 'rps'), p50: med(runs.tf, 'p50'), p99: med(runs.tf, 'p99'), errors: runs.tf.reduce((a, r) => a + r.errors, 0) };
    const tf70 = { rps: med(runs.paced, 'rps'), p50: med(runs.paced, 'p50'), p99: med(runs.paced, 'p99') };
    const target = 0.7 * tfMax.rps;
    const offR = { rps: med(runs.off, 'rps'), p99: med(runs.off, 'p99'), cpuUs: med(runs.off, 'cpuUs') };
    const onR = { rps: med(runs.on, 'rps'), p99: med(runs.on, 'p99'), cpuUs: med(runs.on, 'cpuUs') };
    const perRepeat = (f: (o: WrkResult, n: WrkResult) => number) => runs.on.map((n, i) => f(runs.off[i]!, n).toFixed(2)).join('/');

    return [
      { name: 'TF-path predict, feature spec + logging on (32 conns)', unit: 'req/s', ours: tfMax.rps, anchor: bareMax.rps, anchorName: 'bare Fastify constant', goal: 0.4, notes: { p50_ms: f1(tfMax.p50), p99_ms: f1(tfMax.p99), bare_p99_ms: f1(bareMax.p99), errors: tfMax.errors } },
      // Lower is better for latency: the measure is 15 ms / p99, so ≥ 1 means p99 ≤ 15 ms.
      { name: 'TF-path p99 at 70% of max rate (15 ms / p99)', unit: 'x', ours: 15 / tf70.p99, anchor: 1, anchorName: 'goal p99 15 ms', goal: 1, notes: { p99_ms: f1(tf70.p99), p50_ms: f1(tf70.p50), rate: f1(tf70.rps), target: f1(target) } },
      { name: 'deep MLP 256→1024→1024→1, 64 conns: batching on vs off', unit: 'req/s', ours: onR.rps, anchor: offR.rps, anchorName: 'batching off', goal: 3, notes: { p99_on_ms: f1(onR.p99), p99_off_ms: f1(offR.p99), p99_ratio: (onR.p99 / offR.p99).toFixed(2), goal_p99_ratio: '≤ 2', ratio_per_repeat: perRepeat((o, n) => n.rps / o.rps), p99_ratio_per_repeat: perRepeat((o, n) => n.p99 / o.p99), cpu_us_per_req_off: offR.cpuUs.toFixed(0), cpu_us_per_req_on: onR.cpuUs.toFixed(0), cpu_ratio: (offR.cpuUs / onR.cpuUs).toFixed(2), mean_batch_rows: meanBatch.toFixed(1) } },
    ];
  },
};
