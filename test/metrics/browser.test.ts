// The metrics page in Debian's Chromium: sign in with the token in the URL fragment, see the tables
// and charts, and find on the page exactly the numbers the library computes; save a screenshot.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accumulateMetrics, ensureMetricsSchema } from '../../src/feedback/metrics/accumulate.ts';
import { openFeedbackDb } from '../../src/feedback/metrics/read.ts';
import { computeMetrics } from '../../src/feedback/metrics/run.ts';
import { metricsServer } from '../../src/feedback/metrics/server.ts';
import { generated, T0 } from './examples.ts';
import { fixture, type Fixture } from './fixture.ts';

const OUT = resolve(import.meta.dirname, '../out');
const TOKEN = 'metrics-test-token-0123456789';

describe('the metrics page in a browser', () => {
  let f: Fixture;
  let app: FastifyInstance;
  let browser: BrowserContext;
  let url: string;
  beforeAll(async () => {
    f = await fixture();
    const ex = generated(2400, 11);
    for (const e of ex) if (e.predicted_at >= T0 + 2 * 86_400_000) e.fields.country = 'fr';
    const db = openFeedbackDb(f.project);
    await ensureMetricsSchema(db, { slices: ['country'] });
    await db.transaction((tx) => accumulateMetrics(tx, ex));
    await db.close();
    await f.feedback(ex);
    await f.dataset('train', `SELECT (['de', 'fr', 'us'])[1 + i % 3] AS country, CASE WHEN i % 5 = 0 THEN 'desktop' ELSE 'mobile' END AS device FROM range(3000) t(i)`);
    app = await metricsServer({ project: f.project, token: TOKEN, defaults: { training: 'train@1' } });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    mkdirSync(OUT, { recursive: true });
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sluice-chromium-')), {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      viewport: { width: 1300, height: 900 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await f?.close();
  });

  it('refuses the API without the token', async () => {
    expect((await fetch(`${url}/api/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/api/metrics`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/`)).headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('shows per version and arm the numbers the library computes, the A/B block, charts, calibration and drift', async () => {
    const want = await computeMetrics(f.project, { training: 'train@1' });
    expect(want.source).toBe('incremental');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/#token=${TOKEN}`);
    await page.waitForSelector('#content[data-loaded="yes"]', { timeout: 30_000 });
    expect(page.url()).toBe(`${url}/`); // the token left the address bar
    for (const g of want.groups) {
      const k = `${g.model}@${g.version} ${g.arm}`;
      const cell = (m: string) => page.textContent(`td[data-metric="${m}"][data-group="${k}"]`);
      expect(await cell('n')).toBe(String(g.n));
      expect(await cell('rate')).toBe(`${(g.rate * 100).toFixed(2)}%`);
      expect(await cell('log_loss')).toBe(g.log_loss.toFixed(4));
      expect(await cell('auc')).toBe(g.auc!.toFixed(4));
      expect(await cell('ece')).toBe(g.ece.toFixed(4));
    }
    const c = want.comparisons[0]!;
    expect(await page.textContent('td[data-metric="rate_diff"]')).toBe(`${(c.rate.diff * 100).toFixed(2)} pt [${(c.rate.low * 100).toFixed(2)} pt, ${(c.rate.high * 100).toFixed(2)} pt]`);
    expect(await page.locator('.ab .verdict, .ab .no-verdict').count()).toBeGreaterThan(0);
    expect(await page.locator('#content svg').count()).toBe(7);
    expect(await page.locator('#calibration svg polyline').count()).toBe(2);
    const anomalies = want.drift!.days.filter((d) => d.anomaly).length;
    expect(anomalies).toBe(2);
    expect(await page.locator('#drift-days tr.anomaly').count()).toBe(anomalies);
    await page.screenshot({ path: join(OUT, 'metrics-page.png'), fullPage: true });
    // filtering to hours re-renders from the same state
    await page.selectOption('select[name="granularity"]', 'hour');
    await page.click('#filters button');
    await expect.poll(() => page.textContent('#content p')).toContain('per hour');
    expect(errors).toEqual([]);
  });
});
