// The numeric part of a feature spec as DuckDB SQL, for the batch-inference fast path: a float32
// input made only of numbers and float lists is computed inside DuckDB as one FLOAT[k] column,
// whose chunks arrive as one contiguous Float32Array. The arithmetic is the kernels' (float64, one
// rounding to float32); test/model/features.test.ts proves the tensors bit-identical.
import { ident } from '../../engine/duckdb.ts';
import { F32_OVERFLOW } from './kernels.ts';
import { type Feature, type InputSpec, featureColumn, isList, isNumber } from './spec.ts';

/** A double literal DuckDB parses exactly (a string cast is correctly rounded; a decimal literal may not be). */
export const dbl = (x: number): string => `CAST('${Object.is(x, -0) ? '-0.0' : String(x)}' AS DOUBLE)`;

export type DenseInput = Extract<InputSpec, { features: unknown }>;

/** True when an input can be computed in SQL as one FLOAT[k] column. */
export function isDense(inp: InputSpec): inp is DenseInput {
  return !('image' in inp) && inp.dtype === 'float32' && inp.features.every((f) => isNumber(f) || isList(f));
}

/**
 * The input as `[…]::FLOAT[k]` plus a reason expression that is NULL for a good row and names the
 * first failing feature otherwise (same order and wording as the kernels).
 */
export function denseSql(inp: DenseInput): { value: string; reason: string; width: number } {
  const parts: string[] = [];
  const reasons: string[] = [];
  let width = 0;
  for (const f of inp.features) {
    const c = ident(featureColumn(f));
    if (isNumber(f)) {
      const v = `CAST(${c} AS DOUBLE)`;
      const missing = `(${v} IS NULL OR NOT isfinite(${v}))`;
      let x = f.fill === undefined ? v : `(CASE WHEN ${missing} THEN ${dbl(f.fill)} ELSE ${v} END)`;
      if (f.clip) x = `least(greatest(${x}, ${dbl(f.clip[0])}), ${dbl(f.clip[1])})`;
      if (f.standardize && f.standardize !== true) x = `((${x} - ${dbl(f.standardize.mean)}) / ${dbl(f.standardize.std)})`;
      const r = f.fill === undefined ? [`WHEN ${missing} THEN 'feature ${esc(f.number)}: missing value (' || coalesce(CAST(${c} AS VARCHAR), 'NULL') || ') and no fill rule'`] : [];
      r.push(`WHEN NOT (abs(${x}) < ${dbl(F32_OVERFLOW)}) THEN 'feature ${esc(f.number)}: value ' || CAST(${x} AS VARCHAR) || ' is outside the float32 range'`);
      reasons.push(...r);
      // A failing row gets 0 here so the FLOAT cast never throws; its outputs are discarded.
      parts.push(`[CAST(CASE WHEN abs(${x}) < ${dbl(F32_OVERFLOW)} THEN ${x} ELSE 0 END AS FLOAT)]`);
      width += 1;
    } else if (isList(f)) {
      const ok = `(len(${c}) = ${f.length} AND list_bool_and(list_transform(CAST(${c} AS DOUBLE[]), v -> isfinite(v) AND abs(v) < ${dbl(F32_OVERFLOW)})))`;
      reasons.push(`WHEN ${c} IS NULL THEN 'feature ${esc(f.list)}: expected a list of ${f.length} numbers, got NULL'`);
      reasons.push(`WHEN len(${c}) <> ${f.length} THEN 'feature ${esc(f.list)}: list has ' || len(${c}) || ' values, expected ${f.length}'`);
      reasons.push(`WHEN NOT ${ok} THEN 'feature ${esc(f.list)}: an item is NULL, NaN, infinite or outside the float32 range'`);
      parts.push(`(CASE WHEN coalesce(${ok}, false) THEN CAST(CAST(${c} AS DOUBLE[]) AS FLOAT[]) ELSE list_resize([]::FLOAT[], ${f.length}, 0::FLOAT) END)`);
      width += f.length;
    }
  }
  const value = `CAST(${parts.length === 1 ? parts[0] : `list_concat(${parts.join(', ')})`} AS FLOAT[${width}])`;
  const reason = reasons.length ? `(CASE ${reasons.join(' ')} END)` : 'NULL::VARCHAR';
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
