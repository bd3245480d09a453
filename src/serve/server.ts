// The online inference server (Fastify): v2 and TF Serving routes, /metrics, /admin/reload, the
// token rules, body limit and error answers. Binds 127.0.0.1 unless told otherwise; a token is
// needed for admin endpoints always, and for inference and metrics when bound to another address.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import { SluiceError } from '../core/errors.ts';
import type { Project } from '../core/project.ts';
import { Arms, type ArmsConfig } from './arms.ts';
import type { BatchOptions } from './batcher.ts';
import { HttpError, statusOf } from './errors.ts';
import { parseBody } from './json.ts';
import { ServeMetrics } from './metrics.ts';
import type { PredictionSink, ServeContext } from './predict.ts';
import { registerTfServing } from './routes-tfserving.ts';
import { registerV2 } from './routes-v2.ts';
import { JsonText } from './v2-body.ts';
import type { ServedVersion } from './version.ts';

export interface ServeOptions extends ArmsConfig {
  project: Project;
  host?: string;
  port?: number;
  /** the bearer token; one is generated when none is given (admin always needs it) */
  token?: string;
  /** require the token for inference even on loopback */
  requireToken?: boolean;
  batch: BatchOptions;
  /** deadline for a request (queue wait included), ms */
  timeoutMs: number;
  /** the A/B key field */
  abKey?: string;
  /** largest body in bytes (413 over it) */
  bodyLimit?: number;
  /** proxy mode: a remote v2 / TF Serving endpoint scores instead of in-process ONNX Runtime */
  backend?: { url: string; protocol: 'v2' | 'tfserving' };
  /** prediction log (a LogWriter); none: predictions are not logged */
  log?: PredictionSink;
  /** poll the registry this often for new versions of an unpinned model (0: never) */
  watchMs?: number;
  threads?: number;
}

export interface SluiceServer {
  app: FastifyInstance;
  url: string;
  token: string;
  arms: Arms;
  metrics: ServeMetrics;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const REASON: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 404: 'not_found', 413: 'too_large', 503: 'queue_full', 504: 'deadline' };

function tokenCheck(token: string): (req: FastifyRequest) => boolean {
  const want = createHash('sha256').update(token).digest();
  return (req) => {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    return timingSafeEqual(createHash('sha256').update(h.slice(7)).digest(), want);
  };
}

/**
 * Loads and warms the model versions, then listens.
 * @example const s = await startServer({ project, model: 'ctr', batch: { maxBatch: 64, maxDelayUs: 500, queueLimit: 1024 }, timeoutMs: 1000 });
 */
export async function startServer(o: ServeOptions): Promise<SluiceServer> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? `sls_${randomBytes(24).toString('base64url')}`;
  const metrics = new ServeMetrics();
  const arms = await Arms.open(o.project, o, {
    threads: o.threads ?? o.project.budget.onnx,
    batch: o.batch,
    ...(o.backend ? { backend: { ...o.backend, timeoutMs: o.timeoutMs } } : {}),
  });
  const ctx: ServeContext = { arms, metrics, log: o.log, timeoutMs: o.timeoutMs, abKey: o.abKey };
  const countBatches = (v: ServedVersion) => {
    const h = metrics.batchSize.handle({ version: v.ref });
    v.batcher.onBatch = (rows) => h.observe(rows);
  };
  for (const v of arms.current.versions) countBatches(v);
  arms.onSwap = (_b, next) => {
    metrics.reloads.inc();
    for (const v of next.versions) countBatches(v);
  };

  // No logger, so no request logging: without disableRequestLogging Fastify still builds each request's
  // log objects (and reads its elapsed time) for the no-op logger.
  const app = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }), bodyLimit: o.bodyLimit ?? 1 << 20, keepAliveTimeout: 30_000 });
  app.removeContentTypeParser('application/json');
  // The body as bytes (Fastify's string mode is these bytes decoded as UTF-8, as here).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    // v2 infer reads its own body (a fast reader for tensor data, JSON.parse otherwise).
    if ((req.routeOptions.config as { jsonText?: boolean } | undefined)?.jsonText) return done(null, new JsonText(body as Buffer));
    try {
      done(null, parseBody((body as Buffer).toString('utf8')));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  const authorized = tokenCheck(token);
  const guarded = o.requireToken || !LOOPBACK.has(host);
  // A callback hook, not an async one: it runs on every request, and a promise per request costs.
  app.addHook('onRequest', (req, _reply, done) => {
    // The matched route, not the raw URL: no spelling of a path can borrow health's exemption.
    const url = req.routeOptions.url ?? req.url;
    if (url === '/v2/health/live' || url === '/v2/health/ready') return done();
    if ((url.startsWith('/admin') || guarded) && !authorized(req)) {
      return done(new HttpError(401, `${url.startsWith('/admin') ? 'admin endpoints always need' : 'this server is bound to ' + host + ', so every request needs'} the token: send "Authorization: Bearer <token>"`));
    }
    done();
  });

  app.setErrorHandler((e, req, reply) => {
    const status = statusOf(e);
    const code = (e as { code?: string }).code;
    const message =
      status === 413 ? `body: larger than the limit of ${o.bodyLimit ?? 1 << 20} bytes` : code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'body: send JSON with Content-Type: application/json' : status >= 500 && !(e instanceof SluiceError) ? `internal error: ${(e as Error).message}` : (e as Error).message;
    const route = req.url.startsWith('/v2') ? 'v2' : req.url.startsWith('/v1') ? 'tfserving' : 'other';
    metrics.requests.inc({ route, code: String(status) });
    if (REASON[status]) metrics.rejections.inc({ reason: REASON[status] });
    if (e instanceof HttpError) reply.headers(e.headers);
    return reply.code(status).type('application/json').send(JSON.stringify({ error: message }));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).type('application/json').send(JSON.stringify({ error: `no route ${req.method} ${req.url.split('?')[0]}` })));

  registerV2(app, ctx);
  registerTfServing(app, ctx);
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render(arms.current, o.log?.stats())));
  app.post('/admin/reload', async (_req, reply) => reply.send(await arms.reload()));

  if (o.watchMs) arms.watch(o.watchMs, (e) => process.stderr.write(`sluice serve: reload failed: ${(e as Error).message}\n`));
  const url = await app.listen({ host, port: o.port ?? 8080 });
  return {
    app,
    url,
    token,
    arms,
    metrics,
    async close() {
      await app.close();
      await arms.close();
      await o.log?.flush();
    },
  };
}
