// `split`: named versions per split (`<name>-train`, `-val`, `-test`), deterministic by a seeded
// hash of the group key, stratified within each class, or by time cutoffs (no future in training).
import { InputError, UsageError } from '../core/errors.ts';
import { configHash } from '../core/hash.ts';
import type { Manifest } from '../core/manifest.ts';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { scanSql } from '../core/dataset.ts';
import { ident } from '../engine/duckdb.ts';
import { makeRunner, runIdFor } from '../engine/execute.ts';
import { mapTaskId, type Json, type PlanProgress, type Runner } from '../engine/plan.ts';
import { requireColumn, requireRows } from './columns.ts';
import { runTasks } from './run.ts';
import type { SplitConfig, SplitOutput } from './split-stage.ts';

export interface SplitOptions {
  ratios?: number[];
  names?: string[];
  group?: string;
  stratify?: string;
  byTime?: string;
  cutoffs?: string[];
  seed?: number;
  /** prefix of the split datasets (default: the input dataset's name) */
  out?: string;
  runner?: Runner;
  onProgress?: (p: PlanProgress) => void;
}

export interface SplitResult {
  input: string;
  splits: { name: string; dataset: string; version: number; rows: number; share: number; strata: Record<string, number> | null }[];
}

/** Parses `0.8,0.1,0.1`; the ratios must be positive and sum to 1. */
export function parseRatios(text: string): number[] {
  const ratios = text.split(',').map((s) => Number(s.trim()));
  const bad = ratios.find((r) => !Number.isFinite(r) || r <= 0);
  if (bad !== undefined) throw new UsageError(`--ratios ${JSON.stringify(text)}: ${bad} is not a positive number`, { hint: 'write ratios such as 0.8,0.1,0.1' });
  const sum = ratios.reduce((s, r) => s + r, 0);
  if (Math.abs(sum - 1) > 1e-9) throw new UsageError(`--ratios ${JSON.stringify(text)} sum to ${+sum.toFixed(6)}, not 1`, { hint: 'make the ratios add up to 1, e.g. 0.8,0.1,0.1' });
  return ratios;
}

const defaultNames = (k: number) => (k === 2 ? ['train', 'test'] : k === 3 ? ['train', 'val', 'test'] : Array.from({ length: k }, (_, i) => `split${i}`));

async function checkTime(project: Project, m: Manifest, col: string, cutoffs: string[]): Promise<void> {
  requireColumn(m, col, '--by-time');
  const duck = await project.duck();
  const x = ident(col);
  const r = await duck.one<{ nulls: number }>(
    `SELECT count_if(${x} IS NULL)::DOUBLE AS nulls FROM (${scanSql(project.dataDir, m)})`,
  );
  if (Number(r.nulls) > 0) {
    throw new InputError(`--by-time column ${JSON.stringify(col)} is empty in ${r.nulls} rows of ${m.dataset}@${m.version}; those rows belong to no split`, {
      hint: 'fill or drop rows without a time first',
    });
  }
  // cutoffs must increase in the column's own type
  const cast = m.schema.find((c) => c.name === col)!.type;
  for (let i = 1; i < cutoffs.length; i++) {
    let inc: { inc: boolean };
    try {
      inc = await duck.one<{ inc: boolean }>(`SELECT CAST(? AS ${cast}) < CAST(? AS ${cast}) AS inc`, [cutoffs[i - 1]!, cutoffs[i]!]);
    } catch (e) {
      throw new UsageError(`--cutoffs ${JSON.stringify(cutoffs.join(','))}: cannot read them as ${cast} (${(e as Error).message.split('\n')[0]})`, { cause: e });
    }
    if (!inc.inc) throw new UsageError(`--cutoffs must increase: ${cutoffs[i - 1]} is not before ${cutoffs[i]}`);
  }
}

export async function splitVersion(project: Project, refText: string, o: SplitOptions): Promise<SplitResult> {
  const m = await project.catalog.resolve(parseRef(refText));
  requireRows(m);
  const input = `${m.dataset}@${m.version}`;
  if (o.byTime && o.ratios) throw new UsageError('give either --ratios or --by-time with --cutoffs, not both');
  if (o.byTime && !o.cutoffs?.length) throw new UsageError('--by-time needs --cutoffs (one fewer than the splits), e.g. --cutoffs 2024-01-01,2024-03-01');
  if (!o.byTime && !o.ratios) throw new UsageError('give --ratios (e.g. 0.8,0.1,0.1) or --by-time <col> --cutoffs …');
  const k = o.byTime ? o.cutoffs!.length + 1 : o.ratios!.length;
  if (o.ratios) {
    const sum = o.ratios.reduce((s, r) => s + r, 0);
    if (Math.abs(sum - 1) > 1e-9 || o.ratios.some((r) => r <= 0)) throw new UsageError(`ratios ${o.ratios.join(',')} must be positive and sum to 1 (they sum to ${+sum.toFixed(6)})`);
  }
  const names = o.names ?? defaultNames(k);
  if (names.length !== k) throw new UsageError(`${names.length} split names (${names.join(',')}) for ${k} splits`);
  const prefix = o.out ?? m.dataset;
  const datasets = names.map((n) => assertName(`${prefix}-${n}`, 'dataset'));
  if (o.group) requireColumn(m, o.group, '--group');
  if (o.stratify) requireColumn(m, o.stratify, '--stratify');
  if (o.byTime) await checkTime(project, m, o.byTime, o.cutoffs!);

  const config: SplitConfig = {
    input,
    names,
    ratios: o.ratios ?? null,
    group: o.group ?? null,
    stratify: o.stratify ?? null,
    byTime: o.byTime ?? null,
    cutoffs: o.cutoffs ?? null,
    seed: o.seed ?? 0,
  };
  const runId = runIdFor({ stage: 'split', dataset: datasets[0]!, parent: null, config, inputs: m.parts.map((p) => [p.sha256, p.deletes?.sha256 ?? null]) });
  const runner = o.runner ?? (await makeRunner(project, 'local'));
  const plan = { runId, stage: 'split', dataset: datasets[0]!, parent: null, config: config as unknown as Json, maps: [{ id: mapTaskId(0), input: { parts: m.parts } as unknown as Json }] };
  const outputs = await runTasks(project, plan, runner, o.onProgress);
  const res = outputs.maps.get(mapTaskId(0))!.stats as unknown as SplitOutput;

  const splits: SplitResult['splits'] = [];
  for (const [i, name] of names.entries()) {
    const dataset = datasets[i]!;
    const rows = res.rows[name] ?? 0;
    const strata = res.strata?.[name] ?? null;
    const extra = { split: name, of: input, ratio: o.ratios?.[i] ?? null, share: rows / m.rows, seed: config.seed, strata } as Record<string, unknown>;
    // each split commits on its own dataset's head; the run id per split makes a rerun idempotent
    const head = await project.catalog.head(dataset);
    const v = await project.catalog.commit(
      dataset,
      head,
      { schema: m.schema, parts: res.parts[name] ?? [], rows, parents: [input], operation: 'split', config_hash: configHash(config), config: { ...config, split: name }, licences: m.licences, extra },
      `${runId}-${name}`,
    );
    splits.push({ name, dataset, version: v.version, rows, share: rows / m.rows, strata });
  }
  return { input, splits };
}
