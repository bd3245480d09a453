// The metrics web page and its API (Fastify): GET / is the page, GET /api/metrics the summary as
// JSON, GET /api/metrics/html its rendered body. Read-only, but it serves data, so every API call
// needs the token (`Authorization: Bearer …`, 401 otherwise); it binds 127.0.0.1 by default.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { InputError, NotFoundError, UsageError, describeError } from '../../core/errors.ts';
import type { Project } from '../../core/project.ts';
import { metricsBody } from './html.ts';
import { computeMetrics, type MetricsOptions } from './run.ts';
import { parseSince } from './since.ts';

const WEB = resolve(fileURLToPath(new URL('../../../web/', import.meta.url)));

export interface MetricsServerOptions {
  project: Project;
  token: string;
  /** defaults for every request (slices, training data, A/B arms) */
  defaults?: MetricsOptions;
}

function page(): { html: string; csp: string } {
  const html = readFileSync(join(WEB, 'metrics.html'), 'utf8');
  const inline = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(inline).digest('base64');
  return { html, csp: `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'` };
}

function optionsOf(q: Record<string, unknown>, defaults: MetricsOptions): MetricsOptions {
  const o: MetricsOptions = { ...defaults };
  if (typeof q.model === 'string' && q.model) o.model = q.model;
  if (typeof q.since === 'string' && q.since) o.since = parseSince(q.since);
  if (q.granularity === 'hour' || q.granularity === 'day') o.granularity = q.granularity;
  if (typeof q.slice === 'string' && q.slice) o.slices = q.slice.split(',');
  return o;
}

export async function metricsServer(o: MetricsServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 1024 });
  const { html, csp } = page();
  const want = Buffer.from(o.token);
  const authorized = (req: FastifyRequest) => {
    const got = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    return got.length === want.length && timingSafeEqual(got, want);
  };
  // DuckDB and the catalog are used by one request at a time
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    if (req.url.startsWith('/api/') && !authorized(req)) return reply.code(401).send({ error: 'missing or wrong token' });
  });
  app.setErrorHandler((e, _req, reply) => {
    const status = e instanceof NotFoundError ? 404 : e instanceof UsageError || e instanceof InputError ? 400 : ((e as { statusCode?: number }).statusCode ?? 500);
    void reply.code(status).send({ error: describeError(e) });
  });
  app.get('/', async (_req, reply) => reply.header('Content-Security-Policy', csp).type('text/html; charset=utf-8').send(html));
  app.get('/api/metrics', async (req) => serial(() => computeMetrics(o.project, optionsOf(req.query as Record<string, unknown>, o.defaults ?? {}))));
  app.get('/api/metrics/html', async (req, reply) => {
    const s = await serial(() => computeMetrics(o.project, optionsOf(req.query as Record<string, unknown>, o.defaults ?? {})));
    return reply.type('text/html; charset=utf-8').send(metricsBody(s));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));
  return app;
}

