// The import stage as a plan: one map task per input file writes one Parquet part in file order;
// the commit lists the parts with positional lineage, so `_id` costs nothing at import time.
import { renameSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { sha256File } from '../core/hash.ts';
import { describeFile, scanSql, SYSTEM_COLUMNS } from '../core/dataset.ts';
import type { Licence, Manifest, Part } from '../core/manifest.ts';
import { configHash } from '../core/hash.ts';
import { lit } from '../engine/duckdb.ts';
import type { Json, MapTask, PlanOutputs, PlanSpec, Stage, TaskContext, TaskOutput } from '../engine/plan.ts';
import { parquetReader, parquetWriterOptions } from './parquet.ts';
import { inputFailure, readerSql } from './read.ts';
import type { Format } from './formats.ts';
import { InputError } from '../core/errors.ts';
import { safeJoin } from '../core/names.ts';

export interface ImportConfig {
  source: string;
  format?: Format;
  append: boolean;
  licence?: Licence;
  [k: string]: Json | Licence | undefined;
}

export interface ImportInput {
  path: string;
  size: number;
  mtimeMs: number;
}

export const importStage: Stage = {
  name: 'import',

  async map(ctx: TaskContext, task: MapTask): Promise<TaskOutput> {
    const input = task.input as unknown as ImportInput;
    const config = ctx.plan.config as unknown as ImportConfig;
    // Hash the source while DuckDB converts it: the hash only feeds lineage, not the part's bytes.
    const sha = sha256File(input.path);
    sha.catch(() => {});
    const rel = `${ctx.outDir}/part-0.parquet`;
    const abs = safeJoin(ctx.env.dataDir, rel);
    const temp = `import_${ctx.taskId}`;
    let keepsIds = false;
    try {
      const from = await readerSql(ctx.duck, input.path, config.format, temp);
      await ctx.duck.run(`COPY (SELECT * FROM ${from}) TO ${lit(abs)} (${parquetWriterOptions()})`);
      // A file sluice exported keeps its rows' identity: `_id` stays, `_source` comes back as a struct.
      // Checked on the written part (Parquet metadata: instant) rather than by sniffing the input
      // before the COPY (a second CSV sniff, ~5% of a large import); the rare re-import pays a rewrite.
      const cols = await ctx.duck.describe(`(SELECT * FROM ${parquetReader(abs)})`);
      keepsIds = cols.some((c) => c.name === '_id');
      if (keepsIds) {
        const plain = `${abs}.plain`;
        renameSync(abs, plain);
        await ctx.duck.run(`COPY (SELECT ${reimportSelect(cols, config.source, basename(input.path))} FROM ${parquetReader(plain)}) TO ${lit(abs)} (${parquetWriterOptions()})`);
        rmSync(plain);
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw inputFailure(input.path, e);
    } finally {
      await ctx.duck.run(`DROP TABLE IF EXISTS "${temp}"`);
    }
    const fileSha = await sha;
    const entry = await describeFile(ctx.duck, ctx.env.dataDir, rel);
    const lineage = { prefix: fileSha.slice(0, 16), source: config.source, file: basename(input.path), first: 1 };
    ctx.progress(1, 1);
    return { parts: [keepsIds ? entry : { ...entry, lineage }], stats: { file: input.path, sha256: fileSha, rows: entry.rows } };
  },

  rebase: (plan: PlanSpec) => Boolean((plan.config as unknown as ImportConfig).append),

  async commit(plan, outputs: PlanOutputs, head: Manifest | null, { duck, dataDir }) {
    const config = plan.config as unknown as ImportConfig;
    const newParts: Part[] = plan.maps.map((m) => {
      const out = outputs.maps.get(m.id);
      if (!out?.parts?.length) throw new InputError(`import task ${m.id} produced no part`);
      return out.parts[0] as Part;
    });
    const parts = config.append && head ? [...head.parts, ...newParts] : newParts;
    const draftSchema = await duck.describe(`(${scanSql(dataDir, { ...(head ?? emptyManifest(plan.dataset)), parts })})`);
    if (config.append && head) {
      const before = head.schema.map((c) => `${c.name}:${c.type}`).join(',');
      const after = draftSchema.filter((c) => head.schema.some((h) => h.name === c.name)).map((c) => `${c.name}:${c.type}`).join(',');
      if (before !== after) {
        throw new InputError(`cannot append to ${plan.dataset}@${head.version}: the new files change column types (${before} → ${after})`, {
          hint: 'import into a new dataset, or cast the columns to the existing types first',
        });
      }
    }
    const licences = [...(config.append && head ? head.licences : []), ...(config.licence ? [config.licence] : [])];
    return {
      schema: draftSchema.map((c) => ({ name: c.name, type: c.type, nullable: !SYSTEM_COLUMNS.includes(c.name as never) })),
      parts,
      rows: parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
      parents: head ? [`${head.dataset}@${head.version}`] : [],
      operation: config.append ? 'import-append' : 'import',
      config_hash: configHash(config),
      config: { ...config, files: plan.maps.map((m) => (m.input as unknown as ImportInput).path) } as Json,
      licences: dedupeLicences(licences),
    };
  },
};

const SOURCE_STRUCT = 'STRUCT(source VARCHAR, file VARCHAR, record BIGINT)';

/** The SELECT list for a file that already carries `_id` (a sluice export): keep it, rebuild `_source`. */
function reimportSelect(cols: { name: string; type: string }[], source: string, file: string): string {
  const src = cols.find((c) => c.name === '_source');
  const sourceExpr = !src
    ? `{'source': ${lit(source)}, 'file': ${lit(file)}, 'record': NULL::BIGINT}`
    : src.type.startsWith('STRUCT')
      ? `_source::${SOURCE_STRUCT}`
      : `from_json(_source, '{"source":"VARCHAR","file":"VARCHAR","record":"BIGINT"}')`;
  return `CAST(_id AS VARCHAR) AS _id, ${sourceExpr} AS _source, * EXCLUDE (_id${src ? ', _source' : ''})`;
}

function emptyManifest(dataset: string): Manifest {
  return { format: 1, dataset, version: 1, created_at: '', schema: [], parts: [], rows: 0, parents: [], operation: '', config_hash: '', licences: [] };
}

function dedupeLicences(ls: Licence[]): Licence[] {
  const seen = new Map<string, Licence>();
  for (const l of ls) seen.set(`${l.source}|${l.licence}`, l);
  return [...seen.values()];
}
