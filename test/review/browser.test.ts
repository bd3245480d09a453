// The review UI in Debian's Chromium: sign in with a token in the URL fragment, review three items
// with the keyboard (accept, reject, label), watch the counts change, and save screenshots.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { buildReviewServer } from '../../src/review/server.ts';
import { openReviewStore, type ReviewStore } from '../../src/review/store.ts';
import { cliJson, newProject } from '../foundation/helpers.ts';

const OUT = resolve(import.meta.dirname, '../out');

describe('review UI in a browser', () => {
  let project: Project;
  let store: ReviewStore;
  let app: FastifyInstance;
  let browser: BrowserContext;
  let url: string;
  let token: string;
  beforeAll(async () => {
    const dir = await newProject();
    writeFileSync(join(dir, 'ads.csv'), 'ad,price,image\na1,10,images/a1.png\na2,20,images/a2.png\n');
    await cliJson(dir, 'import', join(dir, 'ads.csv'), '--name', 'ads');
    mkdirSync(join(dir, 'images'));
    await sharp({ create: { width: 120, height: 80, channels: 3, background: { r: 230, g: 120, b: 40 } } }).png().toFile(join(dir, 'images', 'a9.png'));
    project = await Project.open(dir);
    store = await openReviewStore(project);
    token = (await store.addReviewer('alice')).token;
    const reasons = [{ rule: 'price>=0', message: 'price must not be negative' }];
    await store.addItems([
      { dataset: 'ads', record_id: 'n9', kind: 'rule', record: { ad: 'a9', price: -5, image: 'images/a9.png' }, fields: ['price'], reasons, priority: 9, source: 'crawl', routed_in: 'ads@1' },
      { dataset: 'ads', record_id: 'n8', kind: 'rule', record: { ad: 'a8', price: -1, image: null }, fields: ['price'], reasons, priority: 8, source: 'crawl', routed_in: 'ads@1' },
      { dataset: 'ads', record_id: 'n7', kind: 'label', record: { ad: 'a7', price: 3, image: null }, fields: [], reasons: [{ message: 'hard example: model score 0.51' }], priority: 7, labels: ['clicked', 'not clicked'], label_field: 'ad', source: 'mine' },
      {
        dataset: 'ads', record_id: 'n6', kind: 'conflict', record: { ad: 'a6', price: 60, image: null }, fields: ['price'], priority: 6, source: 'partner',
        reasons: [{ field: 'price', message: 'sources disagree on price' }],
        variants: [{ source: 'crawl', _id: 'c6', record: { ad: 'a6', price: 60, image: null } }, { source: 'partner', _id: 'p6', record: { ad: 'a6', price: 65, image: null } }],
      },
    ]);
    app = await buildReviewServer({ store, project });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    mkdirSync(OUT, { recursive: true });
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sluice-chromium-')), {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      viewport: { width: 1300, height: 800 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await store?.close();
    await project?.close();
  });

  it('reviews three items with the keyboard and shows the counts change', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The sign-in page itself arrives with status 401 (no page load can carry the token); any other error counts.
    page.on('console', (m) => m.type() === 'error' && !m.location().url.startsWith(`${url}/#token=`) && errors.push(`${m.text()} ${m.location().url}`));
    await page.goto(`${url}/#token=${token}`);
    await expect.poll(() => page.textContent('#count-done')).toBe('done 0');
    expect(await page.textContent('#count-left')).toBe('left 4');
    expect(page.url()).toBe(`${url}/`); // the token left the address bar

    await page.keyboard.press('n');
    await page.waitForSelector('#item[data-item="1"] img.preview[src^="blob:"]');
    expect(await page.textContent('#item tr.hl')).toBe('price-5');
    await page.screenshot({ path: join(OUT, 'review-item-image.png') });
    await page.keyboard.press('a');
    await expect.poll(() => page.textContent('#count-done')).toBe('done 1');
    await page.waitForSelector('#item[data-item="2"]');
    await page.keyboard.press('r');
    await expect.poll(() => page.textContent('#count-done')).toBe('done 2');
    await page.waitForSelector('#item[data-item="3"]');
    await page.keyboard.press('2'); // second label: "not clicked"
    await expect.poll(() => page.textContent('#count-done')).toBe('done 3');
    await page.waitForSelector('#item[data-item="4"] table.variants');
    expect(await page.textContent('#count-left')).toBe('left 1');
    expect(await page.$$eval('table.variants tr.diff td:first-child', (tds) => tds.map((t) => t.textContent))).toEqual(['price ≠']);
    expect(await page.textContent('#progress')).toContain('per reviewer: alice 3');
    expect(await page.textContent('#app')).not.toContain('null');
    await page.screenshot({ path: join(OUT, 'review-queue.png') });

    expect((await store.decisions(1)).map((d) => d.action)).toEqual(['accept']);
    expect((await store.decisions(2)).map((d) => d.action)).toEqual(['reject']);
    expect((await store.decisions(3)).map((d) => [d.action, d.label])).toEqual([['label', 'not clicked']]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
