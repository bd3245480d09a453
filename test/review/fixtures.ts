// Review test fixtures: stores on SQLite (own temp folder) and PostgreSQL (own schema), and items.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openReviewStoreAt, type ReviewStore, type StoreOptions } from '../../src/review/store.ts';
import type { ReviewItemInput } from '../../src/review/types.ts';

export const PG_URL = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface StoreHarness {
  open(options?: StoreOptions): Promise<ReviewStore>;
  destroy(): Promise<void>;
}

export type StoreKind = 'SQLite' | 'PostgreSQL';

export function harness(kind: StoreKind): StoreHarness {
  if (kind === 'SQLite') {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-review-'));
    return {
      open: (o) => openReviewStoreAt({ kind: 'sqlite', path: join(dir, 'review.db') }, o),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return {
    open: (o) => openReviewStoreAt({ kind: 'postgres', url: PG_URL, schema }, o),
    destroy: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** A rule item for record `n` of `dataset`, priority `priority`. */
export function ruleItem(n: number, priority = 1, dataset = 'ads', extra: Partial<ReviewItemInput> = {}): ReviewItemInput {
  return {
    dataset,
    record_id: `r${n}`,
    kind: 'rule',
    record: { ad: `ad-${n}`, price: -n },
    fields: ['price'],
    reasons: [{ rule: 'price>=0', message: 'price must not be negative' }],
    priority,
    source: n % 2 ? 'partner' : 'crawl',
    routed_in: `${dataset}@1`,
    ...extra,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
