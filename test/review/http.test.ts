// The review HTTP API on SQLite and PostgreSQL: concurrent claims over real sockets, tokens on every
// endpoint, the body limit, cross-origin refusals, and edits checked against the item's rules.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildReviewServer } from '../../src/review/server.ts';
import type { ReviewStore } from '../../src/review/store.ts';
import { harness, ruleItem, type StoreHarness, type StoreKind } from './fixtures.ts';

describe.each<StoreKind>(['SQLite', 'PostgreSQL'])('review HTTP API on %s', (kind) => {
  let h: StoreHarness;
  let store: ReviewStore;
  let app: FastifyInstance;
  let url: string;
  let token: string;
  beforeEach(async () => {
    h = harness(kind);
    store = await h.open();
    token = (await store.addReviewer('alice')).token;
    app = await buildReviewServer({ store });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await app.close();
    await store.close();
    await h.destroy();
  });

  const call = (method: string, path: string, body?: unknown, t: string | null = token, headers: Record<string, string> = {}) =>
    fetch(url + path, {
      method,
      headers: { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  it('hands 1,000 items to 8 concurrent clients without giving any item out twice', async () => {
    await store.addItems(Array.from({ length: 1000 }, (_, i) => ruleItem(i, i % 7)));
    const tokens = await Promise.all(Array.from({ length: 8 }, async (_, i) => (await store.addReviewer(`client${i}`)).token));
    const got = await Promise.all(
      tokens.map(async (t) => {
        const mine: number[] = [];
        for (;;) {
          const r = await call('POST', '/api/claim', { n: 3 }, t);
          expect(r.status).toBe(200);
          const { items } = (await r.json()) as { items: { id: number }[] };
          if (!items.length) return mine;
          mine.push(...items.map((i) => i.id));
        }
      }),
    );
    const all = got.flat();
    expect(all).toHaveLength(1000);
    expect(new Set(all).size).toBe(1000);
    expect(got.every((g) => g.length > 0)).toBe(true);
    const q = (await (await call('GET', '/api/queue')).json()) as { progress: { held: number; pending: number } };
    expect([q.progress.held, q.progress.pending]).toEqual([1000, 0]);
  });

  it('answers 401 on every endpoint without a valid token', async () => {
    await store.addItems([ruleItem(1)]);
    const endpoints: [string, string, unknown?][] = [
      ['GET', '/'], ['GET', '/app.js'], ['GET', '/style.css'], ['GET', '/api/me'], ['GET', '/api/queue'], ['GET', '/api/held'],
      ['POST', '/api/claim', {}], ['GET', '/api/items/1'], ['POST', '/api/items/1/release', {}], ['POST', '/api/items/1/decision', { action: 'accept' }],
      ['POST', '/api/bulk', { filter: {}, action: 'reject' }], ['GET', '/api/items/1/image?field=ad'], ['GET', '/api/audit'], ['GET', '/no/such/thing'],
    ];
    for (const [method, path, body] of endpoints) {
      for (const t of [null, 'slr_wrong', '']) {
        const r = await call(method, path, body, t);
        expect([method, path, t, r.status]).toEqual([method, path, t, 401]);
      }
    }
    // Nothing changed: the item is still pending and unclaimed.
    expect(await store.progress()).toMatchObject({ pending: 1, held: 0, done: 0 });
    // The browser's sign-in page is the 401 body of GET /, and carries no data.
    const page = await call('GET', '/', undefined, null);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('Paste your reviewer token');
  });

  it('answers 413 to a body over the limit, and 401 first when the token is missing', async () => {
    const big = JSON.stringify({ action: 'accept', comment: 'x'.repeat(2 << 20) });
    expect((await call('POST', '/api/items/1/decision', big)).status).toBe(413);
    expect((await call('POST', '/api/items/1/decision', big, null)).status).toBe(401);
  });

  it('refuses a state change from another origin and a body that is not JSON', async () => {
    await store.addItems([ruleItem(1)]);
    const r = await call('POST', '/api/claim', {}, token, { Origin: 'http://evil.example' });
    expect(r.status).toBe(403);
    const form = await fetch(url + '/api/claim', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'n=1' });
    expect(form.status).toBe(415);
    expect((await store.progress()).held).toBe(0);
  });

  it('serves only the UI files, never a path outside web/', async () => {
    expect((await call('GET', '/app.js')).status).toBe(200);
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/web/app.js', '/index.html']) expect((await call('GET', p)).status).toBe(404);
  });

  it('refuses an edit that breaks the item\'s rule with the rule\'s message, and takes one that passes', async () => {
    await store.addItems([ruleItem(1, 1, 'ads', { rules: [{ id: 'price>=0', check: 'price >= 0', message: 'price must not be negative' }] })]);
    const claim = (await (await call('POST', '/api/claim', { n: 1 })).json()) as { items: { id: number }[] };
    const id = claim.items[0]!.id;
    const bad = await call('POST', `/api/items/${id}/decision`, { action: 'edit', record: { ad: 'ad-1', price: -3 } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'rule price>=0: price must not be negative', hint: 'the edited record fails `price >= 0`' });
    const ok = await call('POST', `/api/items/${id}/decision`, { action: 'edit', record: { ad: 'ad-1', price: 3 }, comment: 'sign flipped' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { item: { status: string } }).item.status).toBe('done');
    const again = await call('POST', `/api/items/${id}/decision`, { action: 'accept' });
    expect(again.status).toBe(409);
  });
});
