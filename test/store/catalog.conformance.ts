// The catalog's conformance suite: every store (SQLite, PostgreSQL) must pass these same tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HeadMovedError, IntegrityError, NotFoundError } from '../../src/core/errors.ts';
import type { ManifestDraft } from '../../src/core/manifest.ts';
import type { Catalog } from '../../src/store/catalog.ts';

/** One isolated store per test: `open` gives a new Catalog (its own connection) over it. */
export interface CatalogHarness {
  open(): Promise<Catalog>;
  destroy(): Promise<void>;
}

const sha = (c: string) => c.repeat(64);

/** A small draft whose parts are named after `tag`, so each commit's files are recognisable. */
export function draft(tag: string, rows = 10, extraParts: string[] = []): ManifestDraft {
  const parts = [`${tag}/part-0.parquet`, ...extraParts].map((path) => ({ path, rows, bytes: 100, sha256: sha('a') }));
  return {
    schema: [{ name: 'x', type: 'BIGINT', nullable: true }],
    parts,
    rows: rows * parts.length,
    parents: [],
    operation: 'test',
    config_hash: 'cfg',
    licences: [],
  };
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, the promise resolved');
}

export function catalogConformance(kind: string, makeHarness: () => Promise<CatalogHarness>): void {
  describe(`Catalog on ${kind}`, () => {
    let h: CatalogHarness;
    let cat: Catalog;
    beforeEach(async () => {
      h = await makeHarness();
      cat = await h.open();
    });
    afterEach(async () => {
      await cat.close();
      await h.destroy();
    });

    describe('commits', () => {
      it('commits a new dataset as version 1 with parent null and makes it the head', async () => {
        const m = await cat.commit('ads', null, draft('a'));
        expect(m).toMatchObject({ format: 1, dataset: 'ads', version: 1, rows: 10, operation: 'test' });
        expect(await cat.head('ads')).toBe(1);
        expect((await cat.listDatasets()).map((d) => [d.name, d.head, d.rows])).toEqual([['ads', 1, 10]]);
      });

      it('commits on the head and numbers versions 1, 2, 3', async () => {
        await cat.commit('ads', null, draft('a', 1));
        await cat.commit('ads', 1, draft('b', 2));
        const m3 = await cat.commit('ads', 2, draft('c', 3));
        expect(m3.version).toBe(3);
        expect(await cat.head('ads')).toBe(3);
        expect((await cat.versions('ads')).map((v) => [v.version, v.rows])).toEqual([[1, 1], [2, 2], [3, 3]]);
      });

      it('numbers versions per dataset', async () => {
        await cat.commit('ads', null, draft('a'));
        await cat.commit('ads', 1, draft('b'));
        const other = await cat.commit('clicks', null, draft('c'));
        expect(other.version).toBe(1);
        expect((await cat.listDatasets()).map((d) => [d.name, d.head])).toEqual([['ads', 2], ['clicks', 1]]);
      });

      it('rejects a commit on a stale parent with HeadMovedError naming the dataset, expected and actual head', async () => {
        await cat.commit('ads', null, draft('a'));
        await cat.commit('ads', 1, draft('b'));
        const e = await rejection(cat.commit('ads', 1, draft('c')));
        expect(e).toBeInstanceOf(HeadMovedError);
        const hm = e as HeadMovedError;
        expect([hm.name, hm.dataset, hm.expected, hm.actual]).toEqual(['HeadMovedError', 'ads', 1, 2]);
        expect(hm.message).toBe('head moved: ads is at version 2, this commit was based on 1');
        expect(await cat.head('ads')).toBe(2);
        expect((await cat.versions('ads')).length).toBe(2);
      });

      it('rejects creating a dataset that already exists (parent null) with HeadMovedError', async () => {
        await cat.commit('ads', null, draft('a'));
        const e = (await rejection(cat.commit('ads', null, draft('b')))) as HeadMovedError;
        expect(e).toBeInstanceOf(HeadMovedError);
        expect([e.expected, e.actual]).toEqual([null, 1]);
      });

      it('rejects a commit naming a parent on a dataset that does not exist, and leaves no dataset behind', async () => {
        const e = (await rejection(cat.commit('ghost', 3, draft('a')))) as HeadMovedError;
        expect(e).toBeInstanceOf(HeadMovedError);
        expect([e.dataset, e.expected, e.actual]).toEqual(['ghost', 3, null]);
        expect(await cat.listDatasets()).toEqual([]);
      });

      it('returns the first version when a run commits twice, without creating another', async () => {
        const first = await cat.commit('ads', null, draft('a'), 'run-1');
        const again = await cat.commit('ads', null, draft('zzz', 99), 'run-1');
        expect(again.version).toBe(1);
        expect(again.run_id).toBe('run-1');
        expect(again.parts.map((p) => p.path)).toEqual(first.parts.map((p) => p.path));
        expect((await cat.versions('ads')).map((v) => [v.version, v.run_id])).toEqual([[1, 'run-1']]);
        expect(await cat.head('ads')).toBe(1);
      });

      it('marks the run committed with its version when the commit carries the run id', async () => {
        await cat.beginRun('run-7', 'import', 'ads', { any: 'plan' });
        await cat.commit('ads', null, draft('a'), 'run-7');
        expect(await cat.run('run-7')).toMatchObject({ status: 'committed', version: 1, error: null });
      });
    });

    describe('resolving refs', () => {
      beforeEach(async () => {
        await cat.commit('ads', null, draft('a', 1));
        await cat.commit('ads', 1, draft('b', 2));
      });

      it('resolves a version, latest, and a tag to the right manifest', async () => {
        await cat.setTag('ads', 'gold', 1);
        expect((await cat.resolve({ dataset: 'ads', kind: 'version', version: 1 })).rows).toBe(1);
        expect((await cat.resolve({ dataset: 'ads', kind: 'latest' })).version).toBe(2);
        expect((await cat.resolve({ dataset: 'ads', kind: 'tag', tag: 'gold' })).version).toBe(1);
      });

      it('throws NotFoundError for a missing dataset, version and tag, naming what is missing', async () => {
        const noDs = await rejection(cat.resolve({ dataset: 'nope', kind: 'latest' }));
        expect(noDs).toBeInstanceOf(NotFoundError);
        expect((noDs as Error).message).toBe('dataset nope does not exist');
        const noDsVersion = await rejection(cat.resolve({ dataset: 'nope', kind: 'version', version: 1 }));
        expect((noDsVersion as Error).message).toBe('dataset nope does not exist');
        const noV = await rejection(cat.resolve({ dataset: 'ads', kind: 'version', version: 9 }));
        expect(noV).toBeInstanceOf(NotFoundError);
        expect((noV as Error).message).toBe('version ads@9 does not exist (head is 2)');
        const noTag = await rejection(cat.resolve({ dataset: 'ads', kind: 'tag', tag: 'silver' }));
        expect(noTag).toBeInstanceOf(NotFoundError);
        expect((noTag as Error).message).toBe('tag ads@silver does not exist');
      });

      it('moves a tag when it is set again and forgets it when deleted', async () => {
        await cat.setTag('ads', 'gold', 1);
        await cat.setTag('ads', 'gold', 2);
        expect(await cat.tags('ads')).toEqual([{ tag: 'gold', version: 2 }]);
        expect(await cat.deleteTag('ads', 'gold')).toBe(true);
        expect(await cat.deleteTag('ads', 'gold')).toBe(false);
        expect(await cat.tags('ads')).toEqual([]);
        expect(await rejection(cat.resolve({ dataset: 'ads', kind: 'tag', tag: 'gold' }))).toBeInstanceOf(NotFoundError);
      });

      it('refuses to tag a version that does not exist', async () => {
        expect(await rejection(cat.setTag('ads', 'gold', 5))).toBeInstanceOf(NotFoundError);
        expect(await cat.tags('ads')).toEqual([]);
      });

      it('throws IntegrityError naming the version when its stored manifest is not JSON', async () => {
        await cat.db.run('UPDATE versions SET manifest = ? WHERE dataset = ? AND version = ?', ['{"format": 1, "dataset": "ads", trunc', 'ads', 2]);
        const e = await rejection(cat.resolve({ dataset: 'ads', kind: 'latest' }));
        expect(e).toBeInstanceOf(IntegrityError);
        expect((e as Error).message).toMatch(/^corrupt manifest for ads@2: not JSON/);
        expect((await cat.resolve({ dataset: 'ads', kind: 'version', version: 1 })).rows).toBe(1);
      });

      it('throws IntegrityError naming the field when the stored manifest JSON has the wrong shape', async () => {
        await cat.db.run('UPDATE versions SET manifest = ? WHERE dataset = ? AND version = ?', ['{"format": 1, "dataset": "ads"}', 'ads', 1]);
        const e = await rejection(cat.manifest('ads', 1));
        expect(e).toBeInstanceOf(IntegrityError);
        expect((e as Error).message).toMatch(/^corrupt manifest for ads@1: version: /);
      });
    });

    describe('referenced paths', () => {
      it('lists every part and deletion file of every version, once', async () => {
        await cat.commit('ads', null, draft('a', 10, ['shared/p.parquet']));
        const d2 = draft('b', 10, ['shared/p.parquet']);
        d2.parts[1] = { ...d2.parts[1]!, deletes: { path: 'b/del-0.parquet', rows: 2, bytes: 10, sha256: sha('b') } };
        await cat.commit('ads', 1, d2);
        await cat.commit('clicks', null, draft('c'));
        expect([...(await cat.referencedPaths())].sort()).toEqual([
          'a/part-0.parquet',
          'b/del-0.parquet',
          'b/part-0.parquet',
          'c/part-0.parquet',
          'shared/p.parquet',
        ]);
      });

      it('is empty for an empty catalog', async () => {
        expect((await cat.referencedPaths()).size).toBe(0);
      });
    });

    describe('runs and task attempts', () => {
      it('registers a run once: beginning it again returns the first record unchanged', async () => {
        const r1 = await cat.beginRun('run-1', 'import', 'ads', { n: 1 });
        const r2 = await cat.beginRun('run-1', 'other', 'xyz', { n: 2 });
        expect(r1).toEqual({ run_id: 'run-1', stage: 'import', dataset: 'ads', plan: '{"n":1}', status: 'running', version: null, error: null });
        expect(r2).toEqual(r1);
      });

      it('fails a run with its error and reopens it for another try', async () => {
        await cat.beginRun('run-1', 'import', 'ads', {});
        await cat.failRun('run-1', 'disk full');
        expect(await cat.run('run-1')).toMatchObject({ status: 'failed', error: 'disk full' });
        await cat.reopenRun('run-1');
        expect(await cat.run('run-1')).toMatchObject({ status: 'running', error: null });
      });

      it('never marks a committed run failed, and never reopens it', async () => {
        await cat.beginRun('run-1', 'import', 'ads', {});
        await cat.commit('ads', null, draft('a'), 'run-1');
        await cat.failRun('run-1', 'late zombie error');
        await cat.reopenRun('run-1');
        expect(await cat.run('run-1')).toMatchObject({ status: 'committed', version: 1, error: null });
      });

      it('returns undefined for a run that was never begun', async () => {
        expect(await cat.run('nope')).toBeUndefined();
      });

      it('keeps the first attempt of a task: a second attempt gets the winner back', async () => {
        const first = await cat.recordTask('run-1', 'm00000', 'att-a', { parts: [{ path: 'a.parquet' }] });
        const second = await cat.recordTask('run-1', 'm00000', 'att-b', { parts: [{ path: 'b.parquet' }] });
        expect(first).toEqual({ task_id: 'm00000', attempt_id: 'att-a', output: { parts: [{ path: 'a.parquet' }] } });
        expect(second).toEqual(first);
        const all = await cat.taskResults('run-1');
        expect([...all.values()]).toEqual([first]);
      });

      it('keeps task results per run and per task', async () => {
        await cat.recordTask('run-1', 'm00000', 'a', 1);
        await cat.recordTask('run-1', 'm00001', 'b', 2);
        await cat.recordTask('run-2', 'm00000', 'c', 3);
        const r1 = await cat.taskResults<number>('run-1');
        expect([...r1.entries()].map(([k, v]) => [k, v.attempt_id, v.output]).sort()).toEqual([['m00000', 'a', 1], ['m00001', 'b', 2]]);
        expect((await cat.taskResults('run-2')).get('m00000')?.output).toBe(3);
      });

      it('keeps the first of 8 concurrent attempts of one task, from separate connections', async () => {
        const cats = await Promise.all(Array.from({ length: 8 }, () => h.open()));
        try {
          const results = await Promise.all(cats.map((c, i) => c.recordTask('run-1', 'm00000', `att-${i}`, { i })));
          const winner = results[0]!.attempt_id;
          expect(results.every((r) => r.attempt_id === winner)).toBe(true);
          expect(results.every((r) => (r.output as { i: number }).i === Number(winner.slice(4)))).toBe(true);
        } finally {
          await Promise.all(cats.map((c) => c.close()));
        }
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of 8 concurrent commits on the same parent succeed; 7 get HeadMovedError', async () => {
        await cat.commit('ads', null, draft('base'));
        const cats = await Promise.all(Array.from({ length: 8 }, () => h.open()));
        try {
          const settled = await Promise.allSettled(cats.map((c, i) => c.commit('ads', 1, draft(`w${i}`))));
          const ok = settled.filter((s) => s.status === 'fulfilled');
          const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
          expect(ok.length).toBe(1);
          expect(failed.length).toBe(7);
          for (const f of failed) {
            expect(f.reason).toBeInstanceOf(HeadMovedError);
            expect([(f.reason as HeadMovedError).expected, (f.reason as HeadMovedError).actual]).toEqual([1, 2]);
          }
          expect(await cat.head('ads')).toBe(2);
          const winner = (ok[0] as PromiseFulfilledResult<{ parts: { path: string }[] }>).value;
          expect((await cat.manifest('ads', 2)).parts.map((p) => p.path)).toEqual(winner.parts.map((p) => p.path));
          expect([...(await cat.referencedPaths())].sort()).toEqual(['base/part-0.parquet', winner.parts[0]!.path].sort());
        } finally {
          await Promise.all(cats.map((c) => c.close()));
        }
      });

      it('lets exactly one of 8 concurrent creations of a new dataset succeed', async () => {
        const cats = await Promise.all(Array.from({ length: 8 }, () => h.open()));
        try {
          const settled = await Promise.allSettled(cats.map((c, i) => c.commit('fresh', null, draft(`w${i}`))));
          expect(settled.filter((s) => s.status === 'fulfilled').length).toBe(1);
          const reasons = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
          expect(reasons.length).toBe(7);
          expect(reasons.every((r) => r instanceof HeadMovedError && r.expected === null && r.actual === 1)).toBe(true);
          expect((await cat.versions('fresh')).map((v) => v.version)).toEqual([1]);
        } finally {
          await Promise.all(cats.map((c) => c.close()));
        }
      });
    });
  });
}
