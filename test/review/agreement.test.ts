// Agreement: Cohen's and Fleiss' kappa equal the values computed by hand, exactly, from the
// formulas and through the store's decisions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cohenKappa, fleissKappa } from '../../src/review/agreement.ts';
import { openReviewStoreAt } from '../../src/review/store.ts';
import { ruleItem } from './fixtures.ts';

// 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
// po = 35/50 = 0.7; pe = (25·30 + 25·20)/50² = 0.5; κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
const A = [...Array(20).fill('y'), ...Array(5).fill('y'), ...Array(10).fill('n'), ...Array(15).fill('n')] as string[];
const B = [...Array(20).fill('y'), ...Array(5).fill('n'), ...Array(10).fill('y'), ...Array(15).fill('n')] as string[];

describe('agreement', () => {
  it("computes Cohen's kappa 0.4 for the 2×2 table 20/5/10/15", () => {
    expect(cohenKappa(A, B)).toEqual({ num: 500, den: 1250, value: 0.4 });
  });

  it("computes Fleiss' kappa 0.55 for three items rated yyy, yyn, nnn", () => {
    // P̄ = (1 + 1/3 + 1)/3 = 7/9; p_y = 5/9, p_n = 4/9, P̄e = 41/81; κ = (7/9 − 41/81)/(40/81) = 22/40.
    expect(fleissKappa([['y', 'y', 'y'], ['y', 'y', 'n'], ['n', 'n', 'n']])).toEqual({ num: 44, den: 80, value: 0.55 });
  });

  it('gives kappa 1 for perfect agreement and refuses unequal rating counts', () => {
    expect(cohenKappa(['a', 'b'], ['a', 'b']).value).toBe(1);
    expect(() => fleissKappa([['a', 'b'], ['a']])).toThrow('fleissKappa: every item needs 2 ratings, one has 1');
  });

  it("reports the same Cohen's kappa from two reviewers' decisions in the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-kappa-'));
    const store = await openReviewStoreAt({ kind: 'sqlite', path: join(dir, 'review.db') });
    try {
      const { reviewer: a } = await store.addReviewer('ann');
      const { reviewer: b } = await store.addReviewer('ben');
      await store.addItems(A.map((_, i) => ruleItem(i, 1, 'ads', { kind: 'label', labels: ['y', 'n'] })), { overlap: 2 });
      for (let i = 0; i < A.length; i++) {
        await store.decide(a, i + 1, { action: 'label', label: A[i]! }, { requireLease: false });
        await store.decide(b, i + 1, { action: 'label', label: B[i]! }, { requireLease: false });
      }
      const r = await store.agreement();
      expect(r.items).toBe(50);
      expect(r.observed).toBe(0.7);
      expect(r.pairs).toEqual([{ a: 'ann', b: 'ben', items: 50, kappa: { num: 500, den: 1250, value: 0.4 } }]);
      expect(r.fleiss).toEqual([{ raters: 2, items: 50, kappa: fleissKappa(A.map((x, i) => [x, B[i]!])) }]);
      const p = await store.progress();
      expect([p.done, p.disputed]).toEqual([35, 15]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
