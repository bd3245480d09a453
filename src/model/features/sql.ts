// The numeric part of a feature spec as DuckDB SQL, for the batch-inference fast path: a float32
// input made only of numbers and float lists is computed inside DuckDB as one FLOAT[k] column,
// whose chunks arrive as one contiguous Float32Array. The arithmetic is the kernels' (float64, one
// rounding to float32); test/model/features.test.ts proves the tensors bit-identical.
import { ident } from '../../engine/duckdb.ts';
import { F32_OVERFLOW } from './kernels.ts';
import { type Feature, type InputSpec, type NumberFeature, featureColumn, isList, isNumber } from './spec.ts';

/** A double literal DuckDB parses exactly (a string cast is correctly rounded; a decimal literal may not be). */
export const dbl = (x: number): string => `CAST('${Object.is(x, -0) ? '-0.0' : String(x)}' AS DOUBLE)`;

export type DenseInput = Extract<InputSpec, { features: unknown }>;

/** True when an input can be computed in SQL column by column (a float32 input made only of numbers). */
export function isDense(inp: InputSpec): inp is DenseInput {
  return !('image' in inp) && inp.dtype === 'float32' && inp.features.every((f) => isNumber(f));
}

/**
 * One number feature as a FLOAT column for the columnar fast path: the kernel's arithmetic in
 * DOUBLE, rounded once; NULL when the row fails (missing without fill, outside float32). A FLOAT
 * column with no rule is read as it is (float32 → float64 → float32 is the identity), and its
 * NaN/±Infinity are caught by the reader.
 */
export function numberColumnSql(f: NumberFeature, type: string | undefined): string {
  const c = ident(f.number);
  if (f.fill === undefined && !f.clip && !f.standardize && (type ?? '').toUpperCase() === 'FLOAT') return c;
  const v = `CAST(${c} AS DOUBLE)`;
  const missing = `(${v} IS NULL OR NOT isfinite(${v}))`;
  let x = f.fill === undefined ? `(CASE WHEN ${missing} THEN NULL ELSE ${v} END)` : `(CASE WHEN ${missing} THEN ${dbl(f.fill)} ELSE ${v} END)`;
  if (f.clip) x = `least(greatest(${x}, ${dbl(f.clip[0])}), ${dbl(f.clip[1])})`;
  if (f.standardize && f.standardize !== true) x = `((${x} - ${dbl(f.standardize.mean)}) / ${dbl(f.standardize.std)})`;
  return `CAST(CASE WHEN abs(${x}) < ${dbl(F32_OVERFLOW)} THEN ${x} END AS FLOAT)`;
}

/**
 * The input as `[…]::FLOAT[k]` plus a reason expression that is NULL for a good row and names the
 * first failing feature otherwise (same order and wording as the kernels). `types` are the
 * columns' DuckDB types: a FLOAT column with no rule is used as it is.
 *
 * Cost matters here (this is the hot path): scalars go into one array literal, not a chain of
 * list_concat; the reason is guarded by one cheap test over the whole row, and only a row that
 * fails it evaluates the per-feature CASE.
 */
export function denseSql(inp: DenseInput, types: Record<string, string> = {}): { value: string; reason: string; width: number } {
  const groups: string[] = [];
  let scalars: string[] = [];
  const reasons: string[] = [];
  const rawMissing: string[] = [];
  const overflow: string[] = [];
  let width = 0;
  const flush = () => {
    if (scalars.length) groups.push(`[${scalars.join(', ')}]`);
    scalars = [];
  };
  for (const f of inp.features) {
    const c = ident(featureColumn(f));
    if (isNumber(f)) {
      const v = `CAST(${c} AS DOUBLE)`;
      const missing = `(${v} IS NULL OR NOT isfinite(${v}))`;
      const plain = f.fill === undefined && !f.clip && !f.standardize && (types[f.number] ?? '').toUpperCase() === 'FLOAT';
      if (f.fill === undefined) {
        rawMissing.push(v);
        reasons.push(`WHEN ${missing} THEN 'feature ${esc(f.number)}: missing value (' || coalesce(CAST(${c} AS VARCHAR), 'NULL') || ') and no fill rule'`);
      }
      if (plain) {
        // float32 → float64 → float32 is the identity: nothing to compute.
        scalars.push(c);
      } else {
        let x = f.fill === undefined ? v : `(CASE WHEN ${missing} THEN ${dbl(f.fill)} ELSE ${v} END)`;
        if (f.clip) x = `least(greatest(${x}, ${dbl(f.clip[0])}), ${dbl(f.clip[1])})`;
        if (f.standardize && f.standardize !== true) x = `((${x} - ${dbl(f.standardize.mean)}) / ${dbl(f.standardize.std)})`;
        overflow.push(`abs(${x})`);
        reasons.push(`WHEN NOT (abs(${x}) < ${dbl(F32_OVERFLOW)}) THEN 'feature ${esc(f.number)}: value ' || CAST(${x} AS VARCHAR) || ' is outside the float32 range'`);
        // A failing row gets 0 here so the FLOAT cast never throws; its outputs are discarded.
        scalars.push(`CAST(CASE WHEN abs(${x}) < ${dbl(F32_OVERFLOW)} THEN ${x} ELSE 0 END AS FLOAT)`);
      }
      width += 1;
    } else if (isList(f)) {
      flush();
      const ok = `(len(${c}) = ${f.length} AND list_bool_and(list_transform(CAST(${c} AS DOUBLE[]), v -> isfinite(v) AND abs(v) < ${dbl(F32_OVERFLOW)})))`;
      reasons.push(`WHEN ${c} IS NULL THEN 'feature ${esc(f.list)}: expected a list of ${f.length} numbers, got NULL'`);
      reasons.push(`WHEN len(${c}) <> ${f.length} THEN 'feature ${esc(f.list)}: list has ' || len(${c}) || ' values, expected ${f.length}'`);
      reasons.push(`WHEN NOT ${ok} THEN 'feature ${esc(f.list)}: an item is NULL, NaN, infinite or outside the float32 range'`);
      overflow.push(`CASE WHEN coalesce(${ok}, false) THEN 0 ELSE 'Infinity'::DOUBLE END`);
      groups.push(`(CASE WHEN coalesce(${ok}, false) THEN CAST(CAST(${c} AS DOUBLE[]) AS FLOAT[]) ELSE list_resize([]::FLOAT[], ${f.length}, 0::FLOAT) END)`);
      width += f.length;
    }
  }
  flush();
  const value = `CAST(${groups.length === 1 ? groups[0] : `list_concat(${groups.join(', ')})`} AS FLOAT[${width}])`;
  if (!reasons.length) return { value, reason: 'NULL::VARCHAR', width };
  // One test for the whole row: a NULL, NaN or ±Infinity anywhere makes the sum non-finite.
  const guards: string[] = [];
  if (rawMissing.length) guards.push(`coalesce(isfinite(${rawMissing.join(' + ')}), false)`);
  if (overflow.length) guards.push(`coalesce(greatest(${overflow.join(', ')}) < ${dbl(F32_OVERFLOW)}, false)`);
  const reason = `(CASE WHEN ${guards.join(' AND ')} THEN NULL::VARCHAR ELSE (CASE ${reasons.join(' ')} END) END)`;
  return { value, reason, width };
}

/** How the generic (kernel) path reads a feature's column: numbers as DOUBLE, categories and text as VARCHAR. */
export function columnSql(f: Feature): string {
  const c = ident(featureColumn(f));
  if (isNumber(f)) return `CAST(${c} AS DOUBLE)`;
  if (isList(f)) return c;
  return `CAST(${c} AS VARCHAR)`;
}

const esc = (s: string) => s.replace(/'/g, "''");
