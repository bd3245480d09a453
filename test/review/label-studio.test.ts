// Label Studio round trip: export items and decisions as tasks, import them into a fresh store,
// and get the same items, decisions and statuses back; importing twice adds nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportLabelStudio, importLabelStudio, type LsTask } from '../../src/review/label-studio.ts';
import type { ReviewStore } from '../../src/review/store.ts';
import { harness, ruleItem, type StoreHarness } from './fixtures.ts';

describe('Label Studio interchange', () => {
  let ha: StoreHarness;
  let hb: StoreHarness;
  let a: ReviewStore;
  let b: ReviewStore;
  beforeEach(async () => {
    ha = harness('SQLite');
    hb = harness('SQLite');
    a = await ha.open();
    b = await hb.open();
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await ha.destroy();
    await hb.destroy();
  });

  /** What must survive the trip: each item's identity, status and decisions. */
  const snapshot = async (s: ReviewStore) =>
    Promise.all(
      (await s.list({}, { limit: 100 })).map(async (i) => ({
        key: [i.dataset, i.record_id, i.kind, i.routed_in],
        record: i.record,
        status: i.status,
        decisions: (await s.decisions(i.id)).map(({ reviewer, role, action, label, variant, record, boxes, comment, outcome, created_at }) => ({ reviewer, role, action, label, variant, record, boxes, comment, outcome, created_at })),
      })),
    );

  it('exports and imports classification choices, text fields, bounding boxes and adjudications unchanged', async () => {
    const alice = (await a.addReviewer('alice')).reviewer;
    const bob = (await a.addReviewer('bob')).reviewer;
    const judge = (await a.addReviewer('judge', 'adjudicator')).reviewer;
    await a.addItems([
      ruleItem(1, 5),
      ruleItem(2, 4, 'ads', { kind: 'label', labels: ['cat', 'dog'], record: { image: 'images/cat.png', caption: 'a cat' } }),
      ruleItem(3, 3, 'ads', { kind: 'conflict', variants: [{ source: 'crawl', _id: 'c3', record: { ad: 'x', price: 1 } }, { source: 'partner', _id: 'p3', record: { ad: 'x', price: 2 } }] }),
      ruleItem(4, 2),
      ruleItem(5, 1),
    ]);
    await a.addItems([ruleItem(6, 0)], { overlap: 2 });
    const no = { requireLease: false };
    await a.decide(alice, 1, { action: 'edit', record: { ad: 'ad-1', price: 1 }, comment: 'fixed the sign' }, no);
    await a.decide(alice, 2, { action: 'label', label: 'cat', boxes: [{ x: 10, y: 20.5, width: 30, height: 40, label: 'cat' }] }, no);
    await a.decide(bob, 3, { action: 'accept', variant: 'partner' }, no);
    await a.decide(bob, 4, { action: 'reject' }, no);
    await a.decide(alice, 6, { action: 'accept' }, no);
    await a.decide(bob, 6, { action: 'reject' }, no);
    await a.decide(judge, 6, { action: 'reject', comment: 'spam' }, no);

    const tasks = JSON.parse(JSON.stringify(await exportLabelStudio(a))) as LsTask[];
    expect(tasks).toHaveLength(6);
    const catTask = tasks.find((t) => t.data.caption === 'a cat')!;
    expect(catTask.annotations![0]!.result).toEqual([
      { from_name: 'decision', to_name: 'image', type: 'choices', value: { choices: ['label'] } },
      { from_name: 'label', to_name: 'image', type: 'choices', value: { choices: ['cat'] } },
      { from_name: 'bbox', to_name: 'image', type: 'rectanglelabels', value: { x: 10, y: 20.5, width: 30, height: 40, rotation: 0, rectanglelabels: ['cat'] } },
    ]);
    const edited = tasks.find((t) => t.data.ad === 'ad-1')!;
    expect(edited.annotations![0]!.result.filter((r) => r.type === 'textarea')).toEqual([
      { from_name: 'comment', to_name: 'record', type: 'textarea', value: { text: ['fixed the sign'] } },
      { from_name: 'field.ad', to_name: 'record', type: 'textarea', value: { text: ['ad-1'] } },
      { from_name: 'field.price', to_name: 'record', type: 'textarea', value: { text: ['1'] } },
    ]);

    expect(await importLabelStudio(b, tasks)).toEqual({ tasks: 6, itemsAdded: 6, decisions: 7, skipped: 0 });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    expect((await b.progress()).agreement).toEqual((await a.progress()).agreement);
    // Importing the same file again records nothing new.
    expect(await importLabelStudio(b, tasks)).toEqual({ tasks: 6, itemsAdded: 0, decisions: 0, skipped: 7 });
    // Imported annotators exist but cannot sign in: their tokens were never shown.
    expect((await b.reviewers()).map((r) => [r.name, r.role])).toEqual([['alice', 'reviewer'], ['bob', 'reviewer'], ['judge', 'adjudicator']]);
  });

  it('imports a task Label Studio made itself as a label item of the dataset given', async () => {
    const tasks: LsTask[] = [{ id: 41, data: { text: 'great product' }, annotations: [{ completed_by: 7, result: [{ from_name: 'sentiment', to_name: 'text', type: 'choices', value: { choices: ['positive'] } }, { from_name: 'label', to_name: 'text', type: 'choices', value: { choices: ['positive'] } }] }] }];
    expect(await importLabelStudio(b, tasks, { dataset: 'reviews' })).toEqual({ tasks: 1, itemsAdded: 1, decisions: 1, skipped: 0 });
    const [f] = await b.finalDecisions('reviews');
    expect([f!.item.record_id, f!.item.record, f!.decision.reviewer, f!.decision.action, f!.decision.label]).toEqual(['41', { text: 'great product' }, 'ls-user-7', 'label', 'positive']);
    await expect(importLabelStudio(b, tasks)).rejects.toThrow('task 41 has no data._sluice (it was not exported by sluice)');
  });
});
