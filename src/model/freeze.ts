// Freezing a feature spec from a dataset version: means and standard deviations for
// `standardize: true`, vocabularies for `vocab: { max_size, min_count }`. The frozen values are
// written into model.yaml, so a model never depends on data that may change.
import { InputError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { scanSql } from '../core/dataset.ts';
import { type DuckSession, ident } from '../engine/duckdb.ts';
import { type FeatureSpec, isCategory, isNumber, specColumns } from './features/spec.ts';

export async function freezeSpec(spec: FeatureSpec, duck: DuckSession, dataDir: string, m: Manifest): Promise<FeatureSpec> {
  const ref = `${m.dataset}@${m.version}`;
  const missing = specColumns(spec).filter((c) => !m.schema.some((s) => s.name === c));
  if (missing.length) throw new InputError(`cannot freeze the feature spec from ${ref}: no column ${missing.map((c) => JSON.stringify(c)).join(', ')}`, { hint: `columns: ${m.schema.map((c) => c.name).join(', ')}` });
  const from = `(${scanSql(dataDir, m)})`;
  const inputs = [];
  for (const inp of spec.inputs) {
    if ('image' in inp) {
      inputs.push(inp);
      continue;
    }
    const features = [];
    for (const f of inp.features) {
      if (isNumber(f) && f.standardize === true) {
        const v = `CAST(${ident(f.number)} AS DOUBLE)`;
        const r = await duck.one<{ mean: number | null; std: number | null }>(`SELECT avg(${v}) AS mean, stddev_pop(${v}) AS std FROM ${from} WHERE isfinite(${v})`);
        if (r.mean === null) throw new InputError(`cannot standardize ${f.number}: ${ref} has no finite value in it`);
        // A constant column has std 0: keep it centred instead of dividing by zero.
        features.push({ ...f, standardize: { mean: r.mean, std: r.std && r.std > 0 ? r.std : 1 } });
      } else if (isCategory(f) && f.vocab && !Array.isArray(f.vocab)) {
        const rows = await duck.all<{ v: string }>(
          `SELECT v FROM (SELECT CAST(${ident(f.category)} AS VARCHAR) AS v FROM ${from}) WHERE v IS NOT NULL ` +
            `GROUP BY v HAVING count(*) >= ${f.vocab.min_count} ORDER BY count(*) DESC, v LIMIT ${f.vocab.max_size}`,
        );
        features.push({ ...f, vocab: rows.map((r) => r.v) });
      } else features.push(f);
    }
    inputs.push({ ...inp, features });
  }
  return { ...spec, inputs, frozen_from: ref } as FeatureSpec;
}
