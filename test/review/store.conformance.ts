// The review store's conformance suite: SQLite and PostgreSQL pass these same tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { ReviewConflictError, ReviewForbiddenError } from '../../src/review/errors.ts';
import type { Reviewer, ReviewStore } from '../../src/review/store.ts';
import { harness, ruleItem, sleep, type StoreHarness, type StoreKind } from './fixtures.ts';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, the promise resolved');
}

export function reviewStoreConformance(kind: StoreKind): void {
  describe(`ReviewStore on ${kind}`, () => {
    let h: StoreHarness;
    let store: ReviewStore;
    let alice: Reviewer;
    let bob: Reviewer;
    let judge: Reviewer;
    beforeEach(async () => {
      h = harness(kind);
      store = await h.open({ leaseMs: 60_000 });
      alice = (await store.addReviewer('alice')).reviewer;
      bob = (await store.addReviewer('bob')).reviewer;
      judge = (await store.addReviewer('judge', 'adjudicator')).reviewer;
    });
    afterEach(async () => {
      await store.close();
      await h.destroy();
    });

    it('inserts an item once however often the same dataset, record, kind and run offer it', async () => {
      expect(await store.addItems([ruleItem(1), ruleItem(2)])).toBe(2);
      expect(await store.addItems([ruleItem(1), ruleItem(2), ruleItem(3)])).toBe(1);
      expect(await store.addItems([ruleItem(1, 1, 'ads', { routed_in: 'ads@2' })])).toBe(1);
      expect((await store.progress()).total).toBe(4);
      expect(await store.facets()).toEqual({ dataset: ['ads'], rule: ['price>=0'], source: ['crawl', 'partner'] });
    });

    it('keeps only a hash of each token and knows the reviewer by the token', async () => {
      const { token } = await store.addReviewer('carol');
      expect(await store.authenticate(token)).toMatchObject({ name: 'carol', role: 'reviewer' });
      expect(await store.authenticate(token + 'x')).toBeUndefined();
      const rows = await store.db.all<{ token_hash: string }>('SELECT token_hash FROM review_reviewers');
      expect(rows).toHaveLength(4);
      expect(rows.some((r) => r.token_hash.includes(token) || token.includes(r.token_hash))).toBe(false);
      expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
    });

    it('gives claims made at the same moment distinct items, the highest priorities first', async () => {
      await store.addItems(Array.from({ length: 30 }, (_, i) => ruleItem(i, i)));
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => store.addReviewer(`c${i}`)));
      // Started together, so SQLite runs them in one transaction; each still gets its own 3 items.
      const got = await Promise.all(many.map((m) => store.claim(m.reviewer, 3)));
      expect(got.map((g) => g.length)).toEqual([3, 3, 3, 3, 3, 3, 3, 3]);
      const prios = got.flat().map((i) => i.priority);
      expect(new Set(prios).size).toBe(24);
      expect([...prios].sort((a, b) => b - a)).toEqual(Array.from({ length: 24 }, (_, i) => 29 - i));
      expect(got.every((g) => g[0]!.priority > g[1]!.priority && g[1]!.priority > g[2]!.priority)).toBe(true);
      expect((await store.progress()).held).toBe(24);
      const audit = (await store.auditLog(100)).filter((a) => a.action === 'claim');
      expect(audit).toHaveLength(8);
      if (kind === 'PostgreSQL') {
        // A claim commits without waiting for the WAL flush, for its own transaction only.
        expect(await store.db.get('SELECT current_setting($$synchronous_commit$$) AS s')).toEqual({ s: 'on' });
      }
    });

    it('gives each of several claims made at the same moment items of its own filter', async () => {
      const odd = 'we,"ird" {x}\\';
      await store.addItems([ruleItem(1, 9), ruleItem(2, 8), ruleItem(3, 7), ruleItem(4, 1, odd), ruleItem(5, 2, odd)]);
      const [weird, partner, any, judged] = await Promise.all([
        store.claim(alice, 5, { dataset: odd }),
        store.claim(bob, 5, { source: 'partner', dataset: 'ads' }),
        store.claim((await store.addReviewer('carol')).reviewer, 1),
        store.claim(judge, 1, { status: 'disputed' }),
      ]);
      expect(weird.map((i) => [i.dataset, i.record_id])).toEqual([[odd, 'r5'], [odd, 'r4']]);
      // Which of bob and carol goes first is up to the store (PostgreSQL runs them in parallel):
      // carol takes the best free item, bob the partner items she left.
      const first = any[0]!.record_id === 'r1';
      expect(partner.map((i) => i.record_id)).toEqual(first ? ['r3'] : ['r1', 'r3']);
      expect(any.map((i) => i.record_id)).toEqual([first ? 'r1' : 'r2']);
      expect(judged).toEqual([]);
    });

    it('hands out items highest priority first and never the same item to two reviewers', async () => {
      await store.addItems([ruleItem(1, 1), ruleItem(2, 5), ruleItem(3, 3), ruleItem(4, 5)]);
      const a = await store.claim(alice, 2);
      const b = await store.claim(bob, 5);
      expect(a.map((i) => i.record_id)).toEqual(['r2', 'r4']);
      expect(b.map((i) => i.record_id)).toEqual(['r3', 'r1']);
      expect(await store.claim(judge, 1)).toEqual([]);
      expect((await store.progress()).held).toBe(4);
    });

    it('returns an item to the queue when its lease expires', async () => {
      const short = await h.open({ leaseMs: 150 });
      try {
        await short.addItems([ruleItem(1)]);
        expect((await short.claim(alice, 1)).map((i) => i.record_id)).toEqual(['r1']);
        expect(await short.claim(bob, 1)).toEqual([]);
        await sleep(250);
        expect((await short.claim(bob, 1)).map((i) => i.record_id)).toEqual(['r1']);
        const e = await rejection(short.decide(alice, 1, { action: 'accept' }));
        expect(e).toBeInstanceOf(ReviewConflictError);
        expect((e as Error).message).toBe('review item 1 is held by another reviewer');
      } finally {
        await short.close();
      }
    });

    it('refuses a decision on an item the reviewer does not hold', async () => {
      await store.addItems([ruleItem(1)]);
      const e = await rejection(store.decide(alice, 1, { action: 'accept' }));
      expect(e).toBeInstanceOf(ReviewConflictError);
      expect((e as Error).message).toBe('review item 1 is not leased to alice (the lease expired or was never taken)');
    });

    it('finishes an item with one reviewer by default and records the final decision', async () => {
      await store.addItems([ruleItem(1)]);
      const [item] = await store.claim(alice, 1);
      const { decision, item: after } = await store.decide(alice, item!.id, { action: 'reject', comment: 'spam' });
      expect(after).toMatchObject({ status: 'done', decided: 1, final_decision: decision.id, lease_reviewer: null });
      expect(await store.decisions(item!.id)).toMatchObject([{ reviewer: 'alice', action: 'reject', comment: 'spam', role: 'review', outcome: 'reject' }]);
      expect(await rejection(store.decide(bob, item!.id, { action: 'accept' }, { requireLease: false }))).toBeInstanceOf(ReviewConflictError);
    });

    it('with overlap 2 closes an item when both reviewers agree', async () => {
      await store.addItems([ruleItem(1)], { overlap: 2 });
      await store.claim(alice, 1);
      expect((await store.decide(alice, 1, { action: 'label', label: 'spam' })).item.status).toBe('pending');
      expect(await store.claim(alice, 1)).toEqual([]); // alice already decided it
      await store.claim(bob, 1);
      const r = await store.decide(bob, 1, { action: 'label', label: 'spam' });
      expect(r.item).toMatchObject({ status: 'done', decided: 2, final_decision: r.decision.id });
    });

    it('sends a disagreement to an adjudicator whose decision is final', async () => {
      await store.addItems([ruleItem(1, 1), ruleItem(2, 9)], { overlap: 2 });
      await store.claim(alice, 1); // r2 (priority 9)
      await store.decide(alice, 2, { action: 'accept' });
      await store.claim(bob, 1);
      const r = await store.decide(bob, 2, { action: 'reject' });
      expect(r.item).toMatchObject({ status: 'disputed', final_decision: null });
      // Reviewers cannot take or decide it; the adjudicator gets it before any pending item.
      expect((await store.claim(alice, 5)).map((i) => i.record_id)).toEqual(['r1']);
      const forbidden = await rejection(store.decide(alice, 2, { action: 'accept' }, { requireLease: false }));
      expect(forbidden).toBeInstanceOf(ReviewForbiddenError);
      expect((await store.claim(judge, 1)).map((i) => i.record_id)).toEqual(['r2']);
      const final = await store.decide(judge, 2, { action: 'reject', comment: 'duplicate' });
      expect(final.decision.role).toBe('adjudication');
      expect(final.item).toMatchObject({ status: 'done', final_decision: final.decision.id });
      expect((await store.finalDecisions('ads')).map((f) => [f.item.record_id, f.decision.reviewer, f.decision.action])).toEqual([['r2', 'judge', 'reject']]);
      const p = await store.progress();
      expect([p.done, p.disputed, p.held, p.pending]).toEqual([1, 0, 1, 0]);
      expect(p.reviewers).toEqual([{ name: 'alice', decisions: 1 }, { name: 'bob', decisions: 1 }, { name: 'judge', decisions: 1 }]);
      expect(p.agreement).toMatchObject({ items: 1, observed: 0 });
    });

    it('refuses a label that is not offered and a variant that does not exist', async () => {
      await store.addItems([ruleItem(1, 1, 'ads', { kind: 'label', labels: ['cat', 'dog'] })]);
      await store.claim(alice, 1);
      const e = await rejection(store.decide(alice, 1, { action: 'label', label: 'cow' }));
      expect(e).toBeInstanceOf(InputError);
      expect((e as Error).message).toBe('review item 1: label "cow" is not one of cat, dog');
      const v = await rejection(store.decide(alice, 1, { action: 'accept', variant: 'x' }));
      expect((v as Error).message).toBe('review item 1: variant "x" is not one of (none)');
    });

    it('decides every item of a filter in bulk, leaving items another reviewer holds', async () => {
      await store.addItems([1, 2, 3, 4, 5].map((n) => ruleItem(n)));
      await store.claim(bob, 1); // r1 … all priority 1, so the lowest id
      expect(await store.decideBulk(alice, { source: 'partner' }, { action: 'reject' })).toBe(2); // r3, r5 (r1 held by bob)
      const p = await store.progress({ source: 'partner' });
      expect([p.total, p.done, p.held]).toEqual([3, 2, 1]);
      expect((await store.progress()).done).toBe(2);
      // The status counters kept on every change equal a count from scratch.
      const kept = await store.progress();
      await store.recount();
      expect(await store.progress()).toEqual(kept);
    });

    it('lists items by filter and writes an audit trail', async () => {
      await store.addItems([ruleItem(1), ruleItem(2), ruleItem(3, 1, 'users')]);
      expect((await store.list({ dataset: 'ads' })).map((i) => i.record_id)).toEqual(['r1', 'r2']);
      await store.claim(alice, 1, { dataset: 'users' });
      expect((await store.list({ status: 'held' })).map((i) => i.record_id)).toEqual(['r3']);
      await store.decide(alice, 3, { action: 'accept' });
      const log = await store.auditLog(3);
      expect(log.map((l) => [l.reviewer, l.action, l.item_id])).toEqual([
        ['alice', 'decide:accept', 3],
        ['alice', 'claim', null],
        [null, 'add-items', null],
      ]);
    });
  });
}
