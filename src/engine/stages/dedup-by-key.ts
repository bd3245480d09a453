// Dedup by key, keeping the latest row by a field: the fixture stage with a real shuffle.
// Map: each input part is hash-partitioned by key. Reduce: per key, keep the row with the largest
// `latest` value (ties broken by `_id`, so the result does not depend on file order).
import { configHash } from '../../core/hash.ts';
import { partSql, SYSTEM_COLUMNS } from '../../core/dataset.ts';
import type { Manifest, Part } from '../../core/manifest.ts';
import { safeJoin } from '../../core/names.ts';
import { describeFile } from '../../core/dataset.ts';
import { ident, lit } from '../duckdb.ts';
import type { Json, Stage } from '../plan.ts';
import { readShuffle, writeShuffle } from '../shuffle.ts';
import { parquetWriterOptions } from '../../io/parquet.ts';

export interface DedupConfig {
  input: string; // name@version
  key: string[];
  latest: string;
  [k: string]: Json;
}


export const dedupByKeyStage: Stage = {
  name: 'dedup-by-key',

  async map(ctx, task) {
    const part = task.input as unknown as Part;
    const c = ctx.plan.config as unknown as DedupConfig;
    const shuffle = await writeShuffle(ctx.duck, ctx.env.dataDir, ctx.outDir, partSql(ctx.env.dataDir, part), c.key, ctx.plan.shuffle!.partitions);
    return { shuffle, stats: { rows: part.rows - (part.deletes?.rows ?? 0) } };
  },

  async reduce(ctx, _partition, inputs) {
    if (inputs.length === 0) return { parts: [], stats: { kept: 0, dropped: 0 } };
    const c = ctx.plan.config as unknown as DedupConfig;
    const rel = `${ctx.outDir}/part-0.parquet`;
    const keys = c.key.map(ident).join(', ');
    await ctx.duck.run(
      `COPY (SELECT * FROM ${readShuffle(ctx.env.dataDir, inputs)} ` +
        `QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${ident(c.latest)} DESC NULLS LAST, _id DESC) = 1 ORDER BY _id) ` +
        `TO ${lit(safeJoin(ctx.env.dataDir, rel))} (${parquetWriterOptions()})`,
    );
    const entry = await describeFile(ctx.duck, ctx.env.dataDir, rel);
    const total = inputs.reduce((n, f) => n + f.rows, 0);
    return { parts: [entry], stats: { kept: entry.rows, dropped: total - entry.rows } };
  },

  async commit(plan, outputs, head, { duck, dataDir }) {
    const c = plan.config as unknown as DedupConfig;
    const parts = [...outputs.reduces.values()].flatMap((o) => (o.parts ?? []) as Part[]);
    const rows = parts.reduce((n, p) => n + p.rows, 0);
    const dropped = [...outputs.reduces.values()].reduce((n, o) => n + Number((o.stats as { dropped?: number } | null)?.dropped ?? 0), 0);
    const schema = parts.length
      ? (await duck.describe(`(SELECT * FROM read_parquet(${lit(safeJoin(dataDir, parts[0]!.path))}))`)).map((col) => ({
          name: col.name,
          type: col.type,
          nullable: !SYSTEM_COLUMNS.includes(col.name as never),
        }))
      : [];
    return {
      schema,
      parts,
      rows,
      parents: [c.input, ...(head ? [`${head.dataset}@${head.version}`] : [])],
      operation: 'dedup-by-key',
      config_hash: configHash(c),
      config: c,
      licences: (plan.config as { licences?: Manifest['licences'] }).licences ?? [],
      extra: { dropped },
    };
  },
};
