// The review HTTP API and web UI (Fastify). Every endpoint needs a reviewer's token
// (`Authorization: Bearer …`, 401 otherwise); there are no cookies, so another site cannot make a
// browser send a request that carries the token; POSTs must be JSON and from our own origin.
// Only the fixed files of web/ are served; item images only from inside the project folder.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { InputError, NotFoundError, SluiceError } from '../core/errors.ts';
import type { Column } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { DuckSession } from '../engine/duckdb.ts';
import { ReviewConflictError, ReviewForbiddenError } from './errors.ts';
import type { DecisionInput, ItemFilter, ReviewItem, Reviewer, ReviewStore } from './store.ts';
import { userColumns, validateRecord } from './validate.ts';

export interface ReviewServerOptions {
  store: ReviewStore;
  /** the project: dataset schemas for edit checks, images under its folder */
  project?: Project;
  /** largest request body in bytes (default 1 MiB); larger ones get 413 */
  bodyLimit?: number;
}

const WEB = resolve(fileURLToPath(new URL('../../web/', import.meta.url)));
const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp' };

declare module 'fastify' {
  interface FastifyRequest {
    reviewer: Reviewer;
  }
}

/** The UI's files, read once: a fixed list, so no request path ever reaches the file system. */
function webFiles(): { index: string; csp: string; files: Map<string, { body: string; type: string }> } {
  const index = readFileSync(join(WEB, 'index.html'), 'utf8');
  // The bootstrap script is inline (a page load cannot send the token); the CSP allows exactly it.
  const inline = /<script type="module">([\s\S]*?)<\/script>/.exec(index)?.[1] ?? '';
  const hash = createHash('sha256').update(inline).digest('base64');
  const csp = `default-src 'none'; script-src 'sha256-${hash}' blob:; style-src 'unsafe-inline'; img-src blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  const files = new Map([
    ['/app.js', { body: readFileSync(join(WEB, 'app.js'), 'utf8'), type: 'text/javascript; charset=utf-8' }],
    ['/style.css', { body: readFileSync(join(WEB, 'style.css'), 'utf8'), type: 'text/css; charset=utf-8' }],
  ]);
  return { index, csp, files };
}

function statusOf(e: unknown): number {
  if (e instanceof NotFoundError) return 404;
  if (e instanceof ReviewForbiddenError) return 403;
  if (e instanceof ReviewConflictError) return 409;
  if (e instanceof InputError) return 400;
  const code = (e as { statusCode?: number }).statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}

function filterOf(q: Record<string, unknown>): ItemFilter {
  const f: ItemFilter = {};
  for (const k of ['dataset', 'rule', 'source'] as const) if (typeof q[k] === 'string' && q[k]) f[k] = q[k] as string;
  if (typeof q.status === 'string' && ['pending', 'held', 'disputed', 'done'].includes(q.status)) f.status = q.status as ItemFilter['status'];
  return f;
}

/** An item without its record and variants: a row of the queue page. */
function summary(i: ReviewItem, now: number) {
  return {
    id: i.id,
    dataset: i.dataset,
    record_id: i.record_id,
    kind: i.kind,
    status: i.status === 'pending' && i.lease_reviewer !== null && (i.lease_until ?? 0) > now ? 'held' : i.status,
    priority: i.priority,
    source: i.source ?? null,
    reasons: i.reasons,
    decided: i.decided,
    overlap: i.overlap,
  };
}

const filterSchema = { type: 'object', additionalProperties: false, properties: { dataset: { type: 'string' }, rule: { type: 'string' }, source: { type: 'string' }, status: { enum: ['pending', 'held', 'disputed', 'done'] } } };
const box = { type: 'object', required: ['x', 'y', 'width', 'height', 'label'], additionalProperties: false, properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' }, label: { type: 'string' } } };
const decisionProps = {
  action: { enum: ['accept', 'edit', 'reject', 'label'] },
  label: { type: 'string', maxLength: 200 },
  variant: { type: 'string', maxLength: 200 },
  record: { type: 'object' },
  boxes: { type: 'array', items: box, maxItems: 200 },
  comment: { type: 'string', maxLength: 5000 },
};

export async function buildReviewServer(options: ReviewServerOptions): Promise<FastifyInstance> {
  const { store, project } = options;
  const web = webFiles();
  // forceCloseConnections: closing the server ends keep-alive sockets instead of waiting 72 s for them.
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 1 << 20, logger: false, forceCloseConnections: true });
  const tokens = new Map<string, { reviewer: Reviewer; until: number }>(); // a short cache: one lookup per token per 30 s
  let duck: Promise<DuckSession> | undefined;
  const session = () => (project ? project.duck() : (duck ??= DuckSession.open({ threads: 1 })));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff').header('Referrer-Policy', 'no-referrer').header('Cache-Control', 'no-store').header('Content-Security-Policy', web.csp);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    let hit = token ? tokens.get(token) : undefined;
    if (token && (!hit || hit.until < Date.now())) {
      const reviewer = await store.authenticate(token);
      hit = reviewer ? { reviewer, until: Date.now() + 30_000 } : undefined;
      if (hit) tokens.set(token, hit);
    }
    if (!hit) {
      // The body of a refused request is never read: close the connection rather than leave it half-read.
      if (req.headers['content-length'] || req.headers['transfer-encoding']) reply.header('Connection', 'close');
      // A browser opening the UI gets the sign-in page (it reads the token from the URL fragment).
      const page = req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?'));
      return page
        ? reply.code(401).type('text/html; charset=utf-8').send(web.index)
        : reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'a reviewer token is required: Authorization: Bearer <token>' });
    }
    req.reviewer = hit.reviewer;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin && origin !== `http://${req.headers.host}`) return reply.code(403).send({ error: `cross-origin request from ${origin} refused` });
    }
    return undefined;
  });

  app.setErrorHandler((e: Error & { code?: string }, _req, reply) => {
    const status = statusOf(e);
    const hint = e instanceof SluiceError ? e.hint : undefined;
    void reply.code(status).send({ error: status === 500 ? `internal error: ${e.message}` : e.message, ...(hint ? { hint } : {}) });
  });
  app.setNotFoundHandler((req, reply) => void reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }));

  // ---- UI ----
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(web.index));
  for (const [path, f] of web.files) app.get(path, async (_req, reply) => reply.type(f.type).send(f.body));

  // ---- API ----
  app.get('/api/me', async (req) => req.reviewer);

  app.get('/api/queue', async (req) => {
    const q = req.query as Record<string, string>;
    const filter = filterOf(q);
    const limit = Math.max(1, Math.min(200, Number(q.limit) || 50));
    const offset = Math.max(0, Number(q.offset) || 0);
    const [progress, items, facets] = await Promise.all([store.progress(filter), store.list(filter, { limit, offset }), store.facets()]);
    const now = Date.now();
    return { progress, items: items.map((i) => summary(i, now)), facets, limit, offset };
  });

  app.get('/api/held', async (req) => ({ items: await store.held(req.reviewer) }));

  app.post('/api/claim', { schema: { body: { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', minimum: 1, maximum: 100 }, filter: filterSchema } } } }, async (req) => {
    const body = (req.body ?? {}) as { n?: number; filter?: ItemFilter };
    return { items: await store.claim(req.reviewer, body.n ?? 1, body.filter ?? {}) };
  });

  app.get('/api/items/:id', async (req) => {
    const item = await store.item(idOf(req));
    return { item, decisions: await store.decisions(item.id), schema: await schemaOf(item.dataset) };
  });

  app.post('/api/items/:id/release', async (req) => ({ released: await store.release(req.reviewer, idOf(req)) }));

  app.post('/api/items/:id/decision', { schema: { body: { type: 'object', required: ['action'], additionalProperties: false, properties: decisionProps } } }, async (req) => {
    const body = req.body as DecisionInput;
    const item = await store.item(idOf(req));
    const record = body.action === 'edit' ? body.record : body.action === 'label' && item.label_field ? { ...item.record, [item.label_field]: body.label } : undefined;
    if (record) await validateRecord(await session(), await schemaOf(item.dataset), record, item.rules ?? []);
    return store.decide(req.reviewer, item.id, body);
  });

  app.post(
    '/api/bulk',
    { schema: { body: { type: 'object', required: ['action', 'filter'], additionalProperties: false, properties: { filter: filterSchema, action: { enum: ['accept', 'reject', 'label'] }, label: decisionProps.label, comment: decisionProps.comment, limit: { type: 'integer', minimum: 1, maximum: 100_000 } } } } },
    async (req) => {
      const { filter, limit, ...decision } = req.body as DecisionInput & { filter: ItemFilter; limit?: number };
      return { decided: await store.decideBulk(req.reviewer, filter, decision, limit) };
    },
  );

  app.get('/api/items/:id/image', async (req, reply) => {
    const q = req.query as { field?: string; variant?: string };
    const item = await store.item(idOf(req));
    const rec = q.variant ? item.variants?.find((v) => v.source === q.variant)?.record : item.record;
    const value = q.field ? rec?.[q.field] : undefined;
    if (!project || typeof value !== 'string') throw new NotFoundError(`item ${item.id} has no image field ${JSON.stringify(q.field)}`);
    const path = imagePath(project.root, value);
    const type = IMAGE_TYPES[extname(path).toLowerCase()];
    if (!type) throw new InputError(`field ${q.field} is not an image (${extname(path) || 'no extension'})`);
    try {
      if (!statSync(path).isFile()) throw new Error('not a file');
    } catch (e) {
      throw new NotFoundError(`image ${value} not found in the project`, { cause: e });
    }
    return reply.type(type).send(createReadStream(path));
  });

  app.get('/api/audit', async (req) => {
    if (req.reviewer.role !== 'adjudicator') throw new ReviewForbiddenError('only adjudicators read the audit log');
    return { entries: await store.auditLog(200) };
  });

  app.addHook('onClose', async () => {
    if (duck) (await duck).close();
  });

  async function schemaOf(dataset: string): Promise<Column[] | null> {
    if (!project) return null;
    const head = await project.catalog.head(dataset);
    return head === null ? null : userColumns((await project.catalog.manifest(dataset, head)).schema);
  }
  return app;
}

function idOf(req: FastifyRequest): number {
  const id = Number((req.params as { id: string }).id);
  if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`item id must be a positive whole number, got ${JSON.stringify((req.params as { id: string }).id)}`);
  return id;
}

/** An image path or file: URL as an absolute path inside the project, or an error. */
function imagePath(root: string, value: string): string {
  if (/^https?:/i.test(value)) throw new InputError(`image ${value} is remote; the review server fetches nothing from the network`);
  const p = value.startsWith('file:') ? fileURLToPath(value) : value;
  const rel = isAbsolute(p) ? relative(resolve(root), p) : p;
  return safeJoin(root, rel);
}
