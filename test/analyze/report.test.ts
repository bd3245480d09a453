// The HTML reports open offline and show their charts: rendered in Chromium with the network
// refused, screenshots saved under test/out/ for a person to look at.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext } from 'playwright-core';
import { computeStats } from '../../src/analyze/stats.ts';
import { computeDrift } from '../../src/analyze/drift.ts';
import { driftHtml, statsHtml } from '../../src/analyze/report.ts';
import { parseRef } from '../../src/core/ref.ts';
import { fixture, type Fixture } from './fixture.ts';

const OUT = join(import.meta.dirname, '..', 'out');
let f: Fixture;
let browser: BrowserContext;

beforeAll(async () => {
  f = await fixture();
  await f.dataset('lesions', `SELECT (((i * 7919) % 1000) / 100.0 + (i % 5))::DOUBLE AS size, CASE WHEN i % 100 = 0 THEN 'melanoma' ELSE 'benign' END AS diagnosis,
    ['head', 'arm', 'leg', 'back'][1 + i % 4] AS site, (i % 90)::INTEGER AS age FROM range(2000) r(i)`);
  await f.dataset('later', `SELECT (((i * 7919) % 1000) / 100.0 + 3)::DOUBLE AS size, CASE WHEN i % 20 = 0 THEN 'melanoma' ELSE 'benign' END AS diagnosis,
    ['head', 'arm', 'arm', 'back'][1 + i % 4] AS site, (i % 60 + 20)::INTEGER AS age FROM range(1000) r(i)`);
  mkdirSync(OUT, { recursive: true });
  // a fresh profile folder per run: nothing carries over between test runs
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sluice-chromium-')), {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    viewport: { width: 1300, height: 900 },
  });
});
afterAll(async () => {
  await browser?.close();
  await f.close();
});

async function render(html: string, name: string): Promise<{ charts: number; bars: number; requests: string[]; title: string }> {
  const file = join(f.dir, `${name}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage();
  const requests: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  const r = await page.evaluate(() => ({
    charts: [...document.querySelectorAll('svg')].filter((s) => s.getBoundingClientRect().width > 100 && s.getBoundingClientRect().height > 100).length,
    bars: [...document.querySelectorAll('svg rect')].filter((b) => b.getBoundingClientRect().height > 0).length,
    title: document.title,
  }));
  await page.close();
  return { ...r, requests };
}

describe('HTML reports', () => {
  it('renders the stats report offline with a histogram per number, top values per category and the class balance', async () => {
    const s = await computeStats(f.project, 'lesions', { label: 'diagnosis' });
    const html = statsHtml(s);
    expect(html).not.toMatch(/(src|href)=|url\(|@import/);
    const r = await render(html, 'report-stats');
    expect(r.requests).toEqual([]);
    expect(r.title).toBe('sluice stats — lesions@1');
    // class balance + size, diagnosis, site, age
    expect(r.charts).toBe(5);
    expect(r.bars).toBeGreaterThan(40);
    expect(html).toContain('suggested: imbalance 99.0:1 — oversample the minority classes to 1:5 of the largest');
  });

  it('renders the drift report with drift per feature and both versions side by side', async () => {
    const d = await computeDrift(f.project, await f.project.catalog.resolve(parseRef('lesions')), await f.project.catalog.resolve(parseRef('later')));
    const r = await render(driftHtml(d), 'report-drift');
    expect(r.requests).toEqual([]);
    // PSI chart, L∞ chart, then one side-by-side chart per feature (size, diagnosis, site, age)
    expect(r.charts).toBe(6);
    expect(d.features.filter((x) => x.drifted).map((x) => x.name)).toEqual(['size', 'site', 'age']);
  });
});
