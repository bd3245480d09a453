// bench/review: with 1M pending items (100k with --quick), the queue page's API (goal < 300 ms)
// and claims over HTTP from 8 clients (goal ≥ 1,000/s) on SQLite and PostgreSQL, each beside the
// store's raw rate from the same run. The server runs in a child process (this file, started with
// SLUICE_REVIEW_BENCH_SERVER), so the clients do not share its event loop. A claim counts one item
// handed out (clients ask for one item per request, as the UI does); each rate is the median of
// `repeats` rounds of HTTP, in-process and bare-HTTP loops.
// The 8 HTTP clients are wrk connections (bench/review-wrk.ts): node clients cost more CPU per
// request than the server's claim, and on 2 cores shared with the server they, not the server,
// set the rate (fetch: ~250 claims/s, node:http: ~800, wrk: several thousand, same server). The
// server's CPU per claim is printed too: it stays meaningful when other work loads the machine.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { buildReviewServer } from '../src/review/server.ts';
import { openReviewStoreAt, type Reviewer, type ReviewStore, type ReviewStoreSpec } from '../src/review/store.ts';
import { median, type Bench, type Measure } from './lib.ts';
import { haveWrk, wrk } from './review-wrk.ts';

const PG_URL = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECONDS = 3;

/** Fills the store with `n` pending items in one SQL statement (addItems is not what is measured). */
async function fill(store: ReviewStore, n: number): Promise<void> {
  const cols = `dataset, record_id, kind, routed_in, record, fields, reasons, source, rule, priority, overlap, status, created_at`;
  const sel = (i: string) =>
    `SELECT 'ads', 'r' || ${i}, 'rule', 'ads@1', '{"ad":"ad-' || ${i} || '","price":-1}', '["price"]', '[{"rule":"price>=0","message":"price must not be negative"}]',
       CASE ${i} % 3 WHEN 0 THEN 'crawl' WHEN 1 THEN 'partner' ELSE 'feed' END, 'price>=0', ((${i} % 1000) * 7919) % 1000, 1, 'pending', '2025-01-01T00:00:00Z'`;
  if (store.db.dialect === 'sqlite') {
    await store.db.run(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) INSERT INTO review_items (${cols}) ${sel('i')} FROM s`);
    await store.db.exec('ANALYZE');
  } else {
    await store.db.run(`INSERT INTO review_items (${cols}) ${sel('i')} FROM generate_series(1, ${n}) i`);
    // VACUUM as well: autovacuum would otherwise visit the freshly loaded million rows (setting hint
    // bits and the visibility map) during the measured rounds; a live queue's table has had it.
    await store.db.exec('VACUUM ANALYZE review_items');
  }
  await store.recount();
  // Write the load out of the log before measuring: else the first checkpoint of ~1 GB of WAL
  // (PostgreSQL's checkpointer, SQLite's auto-checkpoint inside a claim's commit) lands in round 1.
  if (store.db.dialect === 'sqlite') await store.db.get('PRAGMA wal_checkpoint(TRUNCATE)');
  else await store.db.exec('CHECKPOINT');
  for (const [k, v] of [['dataset', 'ads'], ['rule', 'price>=0'], ['source', 'crawl'], ['source', 'partner'], ['source', 'feed']]) {
    await store.db.run('INSERT INTO review_facets (kind, value) VALUES (?, ?) ON CONFLICT (kind, value) DO NOTHING', [k!, v!]);
  }
}

/**
 * Starts the review server in a child process on the same store; resolves with its URL and a probe
 * of the CPU time the child has used (µs): CPU per claim stays meaningful on a busy shared machine,
 * where claims per second fall with everyone else's load.
 */
function serverProcess(spec: ReviewStoreSpec): Promise<{ url: string; cpu: () => Promise<number>; stop: () => void }> {
  const prof = process.env.SLUICE_REVIEW_BENCH_PROF; // a folder: the server writes a --cpu-prof profile there
  const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), 'bin/run-ts.js', 'bench/review.bench.ts'];
  const child = spawn(process.execPath, args, { env: { ...process.env, SLUICE_REVIEW_BENCH_SERVER: JSON.stringify(spec) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: ((us: number) => void)[] = [];
  return new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^listening (http:\S+)/.exec(line);
        if (m) {
          const cpu = () => new Promise<number>((r) => (waiting.push(r), child.stdin.write('cpu\n')));
          res({ url: m[1]!, cpu, stop: () => child.kill('SIGTERM') });
        } else if (line.startsWith('cpu ')) waiting.shift()?.(Number(line.slice(4)));
      }
    });
    child.on('exit', (code) => rej(new Error(`review server exited ${code}`)));
  });
}

/** A keep-alive JSON client for `url` (one socket per concurrent caller). */
function client(url: string) {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const call = (method: string, path: string, token: string, body?: string): Promise<unknown> =>
    new Promise((res, rej) => {
      const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${token}` };
      if (body !== undefined) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      const req = http.request({ host: u.hostname, port: u.port, path, method, agent, headers }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : rej(new Error(`${method} ${path}: ${r.statusCode}`))));
        r.on('error', rej);
      });
      req.on('error', rej);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}

/** `workers` loops calling `fn` for `seconds`; returns calls per second and what they returned. */
async function loops<T>(workers: number, seconds: number, fn: (w: number) => Promise<T[]>): Promise<{ rate: number; got: T[] }> {
  const end = performance.now() + seconds * 1000;
  const got: T[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < end) got.push(...(await fn(w)));
    }),
  );
  return { rate: got.length / ((performance.now() - t0) / 1000), got };
}

async function runOn(kind: 'SQLite' | 'PostgreSQL', spec: ReviewStoreSpec, n: number, repeats: number, wrkDir: string, log: (m: string) => void): Promise<Measure[]> {
  const store = await openReviewStoreAt(spec);
  try {
    let t = performance.now();
    await fill(store, n);
    log(`${kind}: ${n.toLocaleString('en')} pending items filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const tokens: string[] = [];
    const reviewers: Reviewer[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await store.addReviewer(`r${i}`);
      tokens.push(r.token);
      reviewers.push(r.reviewer);
    }
    const server = await serverProcess(spec);
    const c = client(server.url);
    try {
      const get = (path: string) => c.call('GET', path, tokens[0]!);
      // Queue page: the API call the page makes, over HTTP, against the raw store calls behind it.
      await get('/api/queue');
      const api: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < 7; i++) {
        t = performance.now();
        await Promise.all([store.progress(), store.list({}, { limit: 50 }), store.facets()]);
        raw.push(performance.now() - t);
        t = performance.now();
        await get(i % 2 ? '/api/queue?source=crawl' : '/api/queue');
        api.push(performance.now() - t);
      }
      const queue = (await get('/api/queue')) as { progress: { pending: number; total: number } };
      log(`${kind}: queue page API ${api.map((x) => x.toFixed(0)).join(', ')} ms (raw store ${raw.map((x) => x.toFixed(0)).join(', ')} ms); ${queue.progress.pending} pending of ${queue.progress.total}`);

      // Claims: 8 HTTP clients with their own tokens (wrk where installed, else node:http), then
      // 8 in-process loops on the store, then the server's cheapest authenticated endpoint from the
      // same 8 clients (what HTTP alone costs here). A claim counts one item handed out.
      const rates = { http: [] as number[], direct: [] as number[], bare: [] as number[], cpu: [] as number[], directCpu: [] as number[], bareCpu: [] as number[] };
      const all: number[] = [];
      const useWrk = haveWrk();
      const load = async (path: string, post: boolean, seconds = SECONDS): Promise<{ rate: number; got: number[] }> => {
        if (useWrk) {
          const r = await wrk({ url: server.url, path, method: post ? 'POST' : 'GET', ...(post ? { body: '{"n":1}' } : {}), tokens: tokens.slice(0, 8), seconds, dir: join(wrkDir, 'load'), ids: post });
          if (r.failed) throw new Error(`${kind}: ${r.failed} requests to ${path} failed`);
          return post ? { rate: r.rate * (r.ids.length / Math.max(1, r.requests)), got: r.ids } : { rate: r.rate, got: [] };
        }
        if (post) return loops(8, seconds, async (w) => ((await c.call('POST', path, tokens[w]!, '{"n":1}')) as { items: { id: number }[] }).items.map((i) => i.id));
        const r = await loops(8, seconds, async (w) => [await c.call('GET', path, tokens[w]!)]);
        return { rate: r.rate, got: [] };
      };
      log(`${kind}: HTTP load from ${useWrk ? 'wrk' : 'node:http (wrk is not installed: expect a lower rate, the client competes for the CPU)'}`);
      // Warm-up, not counted (its items are checked with the rest): the server's pool connections,
      // PostgreSQL's plan of review_claim in each, V8's optimized code for the claim path.
      all.push(...(await load('/api/claim', true, 1)).got);
      for (let round = 0; round < repeats; round++) {
        const cpu0 = await server.cpu();
        const viaHttp = await load('/api/claim', true);
        const cpu1 = await server.cpu();
        const own = process.cpuUsage();
        const direct = await loops(8, SECONDS, async (w) => (await store.claim(reviewers[8 + w]!, 1)).map((i) => i.id));
        const ownUsed = process.cpuUsage(own);
        const cpu2 = await server.cpu();
        const bare = await load('/api/me', false);
        rates.bareCpu.push(((await server.cpu()) - cpu2) / Math.max(1, bare.rate * SECONDS));
        rates.http.push(viaHttp.rate);
        rates.direct.push(direct.rate);
        rates.bare.push(bare.rate);
        rates.cpu.push((cpu1 - cpu0) / viaHttp.got.length);
        rates.directCpu.push((ownUsed.user + ownUsed.system) / direct.got.length);
        all.push(...viaHttp.got, ...direct.got);
        log(
          `${kind}: round ${round + 1}: ${viaHttp.rate.toFixed(0)} claims/s over HTTP (server CPU ${rates.cpu.at(-1)!.toFixed(0)} µs/claim), ` +
            `${direct.rate.toFixed(0)}/s in-process (${rates.directCpu.at(-1)!.toFixed(0)} µs/claim), GET /api/me ${bare.rate.toFixed(0)}/s (${rates.bareCpu.at(-1)!.toFixed(0)} µs/request)`,
        );
      }
      if (new Set(all).size !== all.length) throw new Error(`${kind}: an item was handed out twice (${all.length - new Set(all).size} repeats)`);
      log(`${kind}: ${all.length} items claimed in all, none twice`);
      return [
        { name: `${kind} queue page API, ${n.toLocaleString('en')} pending (median ms, goal < 300)`, unit: 'ms', ours: median(api), anchor: median(raw), anchorName: 'raw store calls' },
        { name: `${kind} claims over HTTP, 8 clients (goal ≥ 1000/s)`, unit: 'claims/s', ours: median(rates.http), anchor: median(rates.direct), anchorName: 'store.claim, 8 loops in-process', notes: { 'server_cpu_us/claim': Math.round(median(rates.cpu)), 'in-process_cpu_us/claim': Math.round(median(rates.directCpu)) } },
        { name: `${kind} claims over HTTP vs GET /api/me, 8 clients`, unit: 'req/s', ours: median(rates.http), anchor: median(rates.bare), anchorName: 'GET /api/me on the same server', notes: { 'server_cpu_us/claim': Math.round(median(rates.cpu)), 'server_cpu_us/me': Math.round(median(rates.bareCpu)) } },
      ];
    } finally {
      c.close();
      server.stop();
    }
  } finally {
    await store.close();
  }
}

export const bench: Bench = {
  name: 'review: queue page API and claims with 1M pending items',
  async run(ctx) {
    const n = ctx.quick ? 100_000 : 1_000_000;
    const dir = join(ctx.dir, 'sqlite');
    rmSync(dir, { recursive: true, force: true });
    const out = await runOn('SQLite', { kind: 'sqlite', path: join(dir, 'review.db') }, n, ctx.repeats, join(ctx.dir, 'wrk'), ctx.log);
    const schema = `bench_review_${process.pid}`;
    try {
      out.push(...(await runOn('PostgreSQL', { kind: 'postgres', url: PG_URL, schema }, n, ctx.repeats, join(ctx.dir, 'wrk'), ctx.log)));
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
    return out;
  },
};

// Child-process mode: serve the store named in the environment until terminated.
if (process.env.SLUICE_REVIEW_BENCH_SERVER) {
  const store = await openReviewStoreAt(JSON.parse(process.env.SLUICE_REVIEW_BENCH_SERVER) as ReviewStoreSpec);
  const app = await buildReviewServer({ store });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`listening ${url}\n`);
  process.stdin.on('data', () => {
    const u = process.cpuUsage();
    process.stdout.write(`cpu ${u.user + u.system}\n`);
  });
  process.once('SIGTERM', () => void app.close().then(() => store.close()).then(() => process.exit(0)));
}
