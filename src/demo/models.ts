// The demo's modeling steps: train a baseline, mine hard negatives with it, train again, compare
// on held-out data, and score every ad for a sample of users. Each is one call to the same API
// the CLI uses; this file only chooses the inputs.
import type { Project } from '../core/project.ts';
import { scanSql } from '../core/dataset.ts';
import { parseRef } from '../core/ref.ts';
import { ident, lit } from '../engine/duckdb.ts';
import type { Runner } from '../engine/plan.ts';
import { importFiles } from '../io/import.ts';
import { runInference } from '../model/infer/plan.ts';
import { binaryMetrics, type BinaryMetrics } from '../model/train/metrics.ts';
import { trainBaseline, type TrainResult } from '../model/train/train.ts';
import { mine } from '../mine/api.ts';
import { scoreCandidates } from '../score/api.ts';
import type { FeatureSpecInput } from '../model/features/spec.ts';

export const MODEL = 'ctr';
export const LABEL = 'clicked';

/** What the model sees: the user's device and country, and the ad's bid. */
export const FEATURES: FeatureSpecInput = {
  inputs: [
    {
      name: 'x',
      features: [
        { category: 'device', vocab: { max_size: 10 }, encode: 'one_hot' },
        { category: 'country', vocab: { max_size: 10 }, encode: 'one_hot' },
        { number: 'bid', fill: 0, standardize: true },
      ],
    },
  ],
} as FeatureSpecInput;

export interface Trained {
  ref: string;
  result: TrainResult;
}

export async function train(project: Project, data: string, val: string | undefined, seed: number, label = LABEL): Promise<Trained> {
  const result = await trainBaseline(project, { baseline: 'logistic', features: FEATURES, data, ...(val ? { val } : {}), label, name: MODEL, seed, epochs: 30, patience: 3 });
  return { ref: result.model, result };
}

/** Log loss, AUC and calibration of a model on a dataset version, through batch inference. */
export async function evaluate(project: Project, runner: Runner, model: string, data: string, label = LABEL): Promise<BinaryMetrics & { rows: number }> {
  const out = `eval-${model.replace('@', '-v')}-${parseRef(data).dataset}`;
  const r = await runInference(project, { model, data, output: out, keep: [label] }, runner);
  const duck = await project.duck();
  const scoreCol = r.manifest.schema.find((c) => c.name !== label && !c.name.startsWith('_') && /FLOAT|DOUBLE/.test(c.type))!.name;
  const rows = await duck.all<{ p: number; y: number }>(`SELECT ${ident(scoreCol)}::DOUBLE AS p, ${ident(label)}::INT AS y FROM (${scanSql(project.dataDir, r.manifest)})`);
  return { ...binaryMetrics(rows.map((x) => x.p), rows.map((x) => x.y)), rows: rows.length };
}

/** Mines the pool's hard negatives with `model` and appends them to a copy of the training data. */
export async function mineHardNegatives(project: Project, runner: Runner, model: string, pool: string, trainRef: string, count: number) {
  return mine(project, { model, data: pool, strategy: 'hard-negatives', count, label: LABEL, exclude: trainRef }, runner);
}

/** Candidates (every ad with its mean bid) × contexts (a sample of users), top k ads per user. */
export async function scoreAds(project: Project, runner: Runner, model: string, impressions: string, dir: string, users: number, k: number) {
  const duck = await project.duck();
  const src = `(${scanSql(project.dataDir, await project.catalog.resolve(parseRef(impressions)))})`;
  const ads = `${dir}/candidates.parquet`;
  const ctx = `${dir}/contexts.parquet`;
  await duck.run(`COPY (SELECT ad_id, round(avg(bid), 4) AS bid FROM ${src} GROUP BY ad_id ORDER BY ad_id) TO ${lit(ads)} (FORMAT parquet)`);
  await duck.run(
    `COPY (SELECT user_id, any_value(device ORDER BY ts DESC) AS device, any_value(country ORDER BY ts DESC) AS country FROM ${src} ` +
      `GROUP BY user_id ORDER BY user_id LIMIT ${users}) TO ${lit(ctx)} (FORMAT parquet)`,
  );
  await importFiles(project, { name: 'candidates', files: [ads] }, runner);
  await importFiles(project, { name: 'contexts', files: [ctx] }, runner);
  return scoreCandidates(project, { model, candidates: 'candidates', contexts: 'contexts', k, rankBy: 'bid * score', candidateId: 'ad_id', contextId: 'user_id', into: 'recommendations' }, runner);
}
