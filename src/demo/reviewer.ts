// The demo's simulated reviewer: decides every pending item the way a careful person would, so
// `review apply` can fold the decisions into new versions. A rule item gets its record repaired
// (a country written out in full becomes its code); a catalog conflict takes the house catalog's
// variant. With `sluice demo --interactive` a person does this in the web UI instead.
import type { Project } from '../core/project.ts';
import { openReviewStore } from '../review/store.ts';
import { applyReview } from '../review/apply.ts';

const COUNTRY_CODES: Record<string, string> = { germany: 'DE', france: 'FR', japan: 'JP', brazil: 'BR', 'united states': 'US' };

export interface ReviewOutcome {
  decided: number;
  applied: { dataset: string; from: number; to: number | null; added: number; replaced: number; removed: number }[];
}

/**
 * `--interactive`: the review UI on 127.0.0.1 with a fresh reviewer token; the demo waits until a
 * person has decided every item, then applies the decisions like the simulated reviewer's.
 */
export async function interactiveReview(project: Project, datasets: string[], say: (line: string) => void): Promise<ReviewOutcome> {
  const store = await openReviewStore(project);
  const { buildReviewServer } = await import('../review/server.ts');
  const app = await buildReviewServer({ store, project });
  try {
    const { token } = await store.addReviewer('you');
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const first = await store.progress();
    say(`review ${first.left} items in your browser: ${url}/#token=${token}  (the demo goes on when none is left)`);
    for (;;) {
      const p = await store.progress();
      if (p.left === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return { decided: first.left, applied: await applyAll(project, store, datasets) };
  } finally {
    await app.close();
    await store.close();
  }
}

async function applyAll(project: Project, store: Awaited<ReturnType<typeof openReviewStore>>, datasets: string[]): Promise<ReviewOutcome['applied']> {
  const applied: ReviewOutcome['applied'] = [];
  for (const d of datasets) {
    const r = await applyReview(project, store, d);
    applied.push({ dataset: d, from: r.from, to: r.to, added: r.added, replaced: r.replaced, removed: r.removed });
  }
  return applied;
}

export async function simulateReview(project: Project, datasets: string[]): Promise<ReviewOutcome> {
  const store = await openReviewStore(project);
  try {
    const { reviewer } = await store.addReviewer('demo-reviewer');
    let decided = 0;
    for (;;) {
      const items = await store.claim(reviewer, 50);
      if (!items.length) break;
      for (const item of items) {
        if (item.kind === 'conflict') {
          const house = item.variants?.find((v) => v.source === 'house-catalog') ?? item.variants?.[0];
          await store.decide(reviewer, item.id, { action: 'accept', ...(house ? { variant: house.source } : {}) });
        } else {
          const country = String(item.record.country ?? '');
          const code = COUNTRY_CODES[country.trim().toLowerCase()];
          if (code) await store.decide(reviewer, item.id, { action: 'edit', record: { ...item.record, country: code }, comment: `${country} → ${code}` });
          else await store.decide(reviewer, item.id, { action: 'reject', comment: 'cannot repair' });
        }
        decided++;
      }
    }
    return { decided, applied: await applyAll(project, store, datasets) };
  } finally {
    await store.close();
  }
}
