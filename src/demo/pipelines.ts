// The demo's curate pipelines: the messy sources mapped into three datasets, with rules,
// duplicates and a catalog conflict that needs a person.
import { definePipeline, type Pipeline } from '../curate/pipeline.ts';
import type { World } from './world.ts';

export function impressionsPipeline(w: World): Pipeline {
  return definePipeline({
    target: 'impressions',
    description: 'one row per ad shown',
    schema: [
      { name: 'impression_id', type: 'int', nullable: false },
      { name: 'user_id', type: 'string', nullable: false },
      { name: 'ad_id', type: 'string', nullable: false },
      { name: 'ts', type: 'timestamp', nullable: false, description: 'when the ad was shown (UTC)' },
      { name: 'country', type: 'string' },
      { name: 'device', type: 'string' },
      { name: 'bid', type: 'float' },
      { name: 'clicked', type: 'bool', nullable: false },
    ],
    sources: [
      {
        name: 'serving-log',
        files: w.impressions,
        licence: { owner: 'ads-team', licence: 'internal', uses: ['training', 'evaluation'] },
        map: {
          ts: { from: 'shown_at', formats: ['%d/%m/%Y %H:%M:%S'] },
          device: { from: 'device', values: { m: 'mobile', mobile: 'mobile', d: 'desktop', desktop: 'desktop', t: 'tablet', tablet: 'tablet' } },
        },
      },
    ],
    rules: [
      { id: 'bid-not-negative', range: { field: 'bid', min: 0 }, message: 'a bid is never negative' },
      { id: 'country-code', regex: { field: 'country', pattern: '[A-Z]{2}' }, action: 'review', severity: 3 },
    ],
  });
}

export function clicksPipeline(w: World): Pipeline {
  return definePipeline({
    target: 'clicks',
    schema: [
      { name: 'click_id', type: 'string', nullable: false },
      { name: 'impression_id', type: 'int', nullable: false },
      { name: 'ts', type: 'timestamp', nullable: false },
    ],
    sources: [{ name: 'client-events', files: w.clicks, map: { ts: { from: 'ts', formats: ['%Y-%m-%dT%H:%M:%S'] } } }],
    dedupe: { key: ['click_id'], keep: 'first', partitions: 2 },
  });
}

export function adsPipeline(w: World): Pipeline {
  return definePipeline({
    target: 'ads',
    schema: [
      { name: 'ad_id', type: 'string', nullable: false },
      { name: 'category', type: 'string' },
      { name: 'advertiser', type: 'string' },
    ],
    sources: [
      { name: 'house-catalog', files: w.houseCatalog, priority: 2 },
      { name: 'partner-catalog', files: w.partnerCatalog, priority: 1, licence: { owner: 'Partner X', licence: 'partner-data-2026', expires: '2027-06-30', uses: ['training'] } },
    ],
    conflicts: { key: ['ad_id'], fields: { category: 'review' }, default: 'priority' },
  });
}
