// `sluice demo --size tiny` runs end to end and every planted damage ends where it should.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice demo', () => {
  it('curates the messy sources, reports, splits, rebalances, trains, mines and scores, with counts that reconcile', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['node', 'sluice', '--json', 'demo', '--size', 'tiny', '--dir', join(dir, 'd')]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const r = JSON.parse(out.join('')) as {
      steps: { step: string; rows: number; detail: string }[];
      report: string;
      loop: { clicks: number; positives: number; examples: number; predictions: number; promoted: string; v1: string; v3: string; judged: Record<string, { log_loss: number }> };
    };
    expect(r.steps.slice(0, 8).map((s) => [s.rows, s.detail.replace(/, report .*$/, '')])).toEqual([
      [20000, '7 damaged records planted'],
      [20000, '20005 records: 20000 accepted, 4 quarantined, 1 to review'],
      [2237, '2342 records: 103 duplicates, 2 quarantined'],
      [778, '22 conflicting ads sent to review'],
      // the reviewer repairs "Germany" to DE (the record joins impressions) and settles 22 ads
      [23, 'impressions@1 → @2 (1 added, 0 replaced, 0 removed), ads@1 → @2 (22 added, 0 replaced, 0 removed)'],
      [20001, 'click rate 11.18%'],
      [20001, 'impressions-train@1 10001, impressions-pool@1 5000, impressions-test@1 5000'],
      [10613, 'impressions-train@2'],
    ]);
    const step = (prefix: string) => r.steps.find((s) => s.step.startsWith(prefix))!;
    // v1 learns the hidden click model from 10,613 rebalanced rows; 5% of the pool is mined.
    expect(step('train v1').rows).toBe(10613);
    expect(step('mine hard negatives').rows).toBe(250);
    expect(step('mine hard negatives').detail).toBe('appended to impressions-train@3 (10863 rows)');
    expect(step('train v2').rows).toBe(10863);
    const auc = [...step('compare v1 and v2').detail.matchAll(/AUC (\d\.\d+)/g)].map((m) => Number(m[1]));
    expect(auc).toHaveLength(2);
    for (const a of auc) expect(a).toBeGreaterThan(0.65);
    // 800 ads minus those never shown × 200 users, top 10 each.
    expect(step('score every ad').rows).toBe(2000);
    // Closing the loop: every click the simulated users made is a positive example, exactly once;
    // every prediction shown to a user is one example.
    expect(r.loop.positives).toBe(r.loop.clicks);
    expect(r.loop.examples).toBe(r.loop.predictions);
    // v3 learned the world after the drift: better than v1 on fresh traffic, and promoted.
    expect(r.loop.judged[r.loop.v3]!.log_loss).toBeLessThan(r.loop.judged[r.loop.v1]!.log_loss);
    expect(r.loop.promoted).toBe(r.loop.v3);
    expect(readFileSync(r.report, 'utf8')).toContain('<svg');
  });
});
