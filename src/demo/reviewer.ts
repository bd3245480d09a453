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
    const applied: ReviewOutcome['applied'] = [];
    for (const d of datasets) {
      const r = await applyReview(project, store, d);
      applied.push({ dataset: d, from: r.from, to: r.to, added: r.added, replaced: r.replaced, removed: r.removed });
    }
    return { decided, applied };
  } finally {
    await store.close();
  }
}
