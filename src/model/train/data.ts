// Training data in memory: the label's two classes, then every row's features read through the
// batch-inference reader (`readBatches`, the same feature code as scoring and serving) into one
// row-major Float32Array, with the label as 0/1 beside it. Rows whose features fail are skipped
// and counted.
import { ConfigError, InputError, UsageError } from '../../core/errors.ts';
import { scanSql } from '../../core/dataset.ts';
import type { Manifest } from '../../core/manifest.ts';
import type { Project } from '../../core/project.ts';
import { ident, lit } from '../../engine/duckdb.ts';
import { requireLabel, requireRows } from '../../analyze/columns.ts';
import { toRows } from '../backends/backend.ts';
import type { FeatureSpec } from '../features/spec.ts';
import { compileSpec } from '../features/compile.ts';
import { readBatches } from '../infer/reader.ts';

/** The in-memory copy is capped: a baseline trains on a sample, not on a corpus. */
export const MAX_BYTES = 2 ** 31;
const LABEL_INPUT = '__sluice_label';
const READ_BATCH = 8192;

export interface Classes {
  positive: string;
  negative: string;
  /** rows per class in this version */
  counts: Record<string, number>;
}

export interface TrainingSet {
  ref: string;
  /** [rows][width] row-major */
  x: Float32Array;
  /** 1 = positive */
  y: Float32Array;
  rows: number;
  width: number;
  /** rows left out because a feature failed, with the first reason */
  skipped: number;
  firstSkip?: string;
}

/** The label's two classes in `m` and which is positive (`--positive`, else 1 or true). */
export async function binaryClasses(project: Project, m: Manifest, label: string, positive?: string): Promise<Classes> {
  const ref = `${m.dataset}@${m.version}`;
  requireRows(m);
  const col = requireLabel(m, label);
  const duck = await project.duck();
  const rows = await duck.all<{ v: string | null; n: number }>(`SELECT ${ident(col.name)}::VARCHAR AS v, count(*)::DOUBLE AS n FROM (${scanSql(project.dataDir, m)}) GROUP BY 1 ORDER BY 1`);
  const nulls = rows.find((r) => r.v === null);
  if (nulls) throw new InputError(`label column ${JSON.stringify(label)} is empty in ${nulls.n} rows of ${ref}`, { hint: 'drop or fill the rows without a label first' });
  const counts = Object.fromEntries(rows.map((r) => [r.v!, Number(r.n)]));
  const values = Object.keys(counts);
  if (values.length !== 2) {
    throw new InputError(`label column ${JSON.stringify(label)} of ${ref} has ${values.length} class${values.length === 1 ? '' : 'es'} (${values.slice(0, 10).join(', ')}); the baseline trainer needs exactly two`, {
      hint: values.length < 2 ? 'train on data with both classes' : 'map the label to two classes first (e.g. a curate rule), or train a multi-class model outside sluice',
    });
  }
  const pos = positive ?? (values.includes('1') && values.includes('0') ? '1' : values.includes('true') && values.includes('false') ? 'true' : undefined);
  if (pos === undefined) throw new UsageError(`label column ${JSON.stringify(label)} has classes ${values.map((v) => JSON.stringify(v)).join(' and ')}: which one is positive?`, { hint: `pass --positive ${values[1]}` });
  if (!values.includes(pos)) throw new UsageError(`--positive ${JSON.stringify(pos)} is not a class of ${label} in ${ref}`, { hint: `classes: ${values.join(', ')}` });
  return { positive: pos, negative: values.find((v) => v !== pos)!, counts };
}

/** Fails unless every input is float32 features (numbers, one-hot or hashed categories, text, lists). */
export function checkTrainable(spec: FeatureSpec): number {
  for (const inp of spec.inputs) {
    if ('image' in inp) throw new ConfigError(`feature spec: input ${inp.name} is an image; the baseline trainer takes tabular features`, { hint: 'train image models outside sluice and add them with `sluice model add`' });
    if (inp.dtype !== 'float32') throw new ConfigError(`feature spec: input ${inp.name} is int64 (category ids); the baseline trainer has no embeddings`, { hint: 'use encode: one_hot (or hash buckets with encode: one_hot) in a float32 input' });
  }
  return compileSpec(spec).inputs.reduce((s, p) => s + p.rowSize, 0);
}

/** Reads `m` through the frozen spec into memory, the spec's inputs side by side in their order. */
export async function loadSet(project: Project, m: Manifest, spec: FeatureSpec, label: string, classes: Classes, onRows?: (rows: number) => void): Promise<TrainingSet> {
  const ref = `${m.dataset}@${m.version}`;
  const width = checkTrainable(spec);
  if (m.rows * width * 4 > MAX_BYTES) {
    throw new InputError(`${ref} has ${m.rows} rows × ${width} features = ${((m.rows * width * 4) / 2 ** 30).toFixed(1)} GiB as float32; the baseline trainer holds at most ${MAX_BYTES / 2 ** 30} GiB in memory`, {
      hint: 'train on a sample (e.g. `sluice split … --ratios 0.1,0.9`) or with a trainer outside sluice',
    });
  }
  const relation = `(SELECT *, (${ident(label)}::VARCHAR = ${lit(classes.positive)})::FLOAT AS ${ident(LABEL_INPUT)} FROM (${scanSql(project.dataDir, m)}))`;
  const withLabel: FeatureSpec = { ...spec, inputs: [...spec.inputs, { name: LABEL_INPUT, dtype: 'float32', features: [{ number: LABEL_INPUT }] }] };
  const x = new Float32Array(m.rows * width);
  const y = new Float32Array(m.rows);
  let rows = 0;
  let skipped = 0;
  let firstSkip: string | undefined;
  const names = spec.inputs.map((i) => i.name);
  for await (const b of readBatches(await project.duck(), withLabel, relation, READ_BATCH, project.root)) {
    const inputs = names.map((n) => toRows(b.inputs[n]!));
    const label01 = toRows(b.inputs[LABEL_INPUT]!).data as Float32Array;
    for (let i = 0; i < b.rows; i++) {
      const reason = b.failed.get(i);
      if (reason !== undefined) {
        skipped++;
        firstSkip ??= reason || 'a feature is missing or outside the float32 range';
        continue;
      }
      let at = rows * width;
      for (const t of inputs) {
        const w = t.dims[1]!;
        x.set((t.data as Float32Array).subarray(i * w, (i + 1) * w), at);
        at += w;
      }
      y[rows++] = label01[i]!;
    }
    onRows?.(rows + skipped);
  }
  if (rows === 0) throw new InputError(`no row of ${ref} has usable features (${skipped} skipped; first reason: ${firstSkip ?? 'none'})`, { hint: 'give the features fill values or fix the data' });
  return { ref, x: x.subarray(0, rows * width), y: y.subarray(0, rows), rows, width, skipped, ...(firstSkip ? { firstSkip } : {}) };
}
