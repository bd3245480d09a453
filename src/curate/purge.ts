// Purge a source whose licence ended: every dataset's head gets a new version without that
// source's rows (whole parts dropped, or deletion files over shared parts), and the models trained
// on versions that held them are listed so they can be retrained.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Manifest, Part } from '../core/manifest.ts';
import { configHash } from '../core/hash.ts';
import { describeFile, scanSql } from '../core/dataset.ts';
import { safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { lit } from '../engine/duckdb.ts';
import { parquetWriterOptions } from '../io/parquet.ts';

export interface PurgeResult {
  source: string;
  datasets: { dataset: string; from: number; to: number; removedRows: number; droppedParts: number }[];
  models: { model: string; trainedOn: string[] }[];
}

/** SQL predicate for rows of `source` in a version's relation (none if the dataset has no source column). */
function sourcePredicate(m: Manifest, source: string): string | null {
  if (m.schema.some((c) => c.name === '_source')) return `_source.source = ${lit(source)}`;
  if (m.operation === 'quarantine' && m.schema.some((c) => c.name === 'source')) return `source = ${lit(source)}`;
  return null;
}

async function purgeVersion(project: Project, m: Manifest, source: string): Promise<{ parts: Part[]; removed: number; dropped: number } | null> {
  const pred = sourcePredicate(m, source);
  if (!pred) return null;
  const duck = await project.duck();
  const out: Part[] = [];
  let removed = 0;
  let dropped = 0;
  for (const p of m.parts) {
    if (p.lineage) {
      if (p.lineage.source === source) {
        removed += p.rows - (p.deletes?.rows ?? 0);
        dropped++;
      } else out.push(p);
      continue;
    }
    // Positions (in the part file) of this source's live rows.
    const hits = `(SELECT file_row_number AS pos FROM (SELECT *, file_row_number FROM read_parquet(${lit(safeJoin(project.dataDir, p.path))}, file_row_number = true)) WHERE ${pred}${
      p.deletes ? ` AND file_row_number NOT IN (SELECT pos FROM read_parquet(${lit(safeJoin(project.dataDir, p.deletes.path))}))` : ''
    })`;
    const [{ n }] = (await duck.all<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${hits}`)) as [{ n: number }];
    const live = p.rows - (p.deletes?.rows ?? 0);
    if (Number(n) === 0) out.push(p);
    else if (Number(n) === live) {
      removed += live;
      dropped++;
    } else {
      const dir = `${m.dataset}/deletes`;
      mkdirSync(safeJoin(project.dataDir, dir), { recursive: true });
      const rel = `${dir}/purge-${randomUUID().slice(0, 12)}.parquet`;
      const old = p.deletes ? `SELECT pos FROM read_parquet(${lit(safeJoin(project.dataDir, p.deletes.path))}) UNION ALL ` : '';
      await duck.run(`COPY (SELECT pos FROM (${old}SELECT pos FROM ${hits}) ORDER BY pos) TO ${lit(safeJoin(project.dataDir, rel))} (${parquetWriterOptions()})`);
      out.push({ ...p, deletes: await describeFile(duck, project.dataDir, rel) });
      removed += Number(n);
    }
  }
  return { parts: out, removed, dropped };
}

export async function purgeSource(project: Project, source: string): Promise<PurgeResult> {
  const result: PurgeResult = { source, datasets: [], models: [] };
  for (const d of await project.catalog.listDatasets()) {
    if (d.head === null) continue;
    const m = await project.catalog.manifest(d.name, d.head);
    const r = await purgeVersion(project, m, source);
    if (!r || (r.removed === 0 && !m.licences.some((l) => l.source === source))) continue;
    const next = await project.catalog.commit(d.name, m.version, {
      schema: m.schema,
      parts: r.parts,
      rows: r.parts.reduce((n, p) => n + p.rows - (p.deletes?.rows ?? 0), 0),
      parents: [`${m.dataset}@${m.version}`],
      operation: 'purge',
      config_hash: configHash({ purge: source }),
      config: { purge: source },
      licences: m.licences.filter((l) => l.source !== source),
      ...(m.extra ? { extra: { ...m.extra, purged: [...((m.extra.purged as string[] | undefined) ?? []), source] } } : { extra: { purged: [source] } }),
    });
    result.datasets.push({ dataset: d.name, from: m.version, to: next.version, removedRows: r.removed, droppedParts: r.dropped });
  }
  result.models = await modelsTrainedOn(project, source);
  return result;
}

/** Models whose training data (any listed version) held rows of `source` or carried its licence. */
async function modelsTrainedOn(project: Project, source: string): Promise<PurgeResult['models']> {
  let models: { name: string; version: number; trained_on: { dataset: string; licences: { source: string }[] }[] }[] = [];
  try {
    models = (await import('../model/registry.ts')).listModels(project);
  } catch {
    return [];
  }
  const out: PurgeResult['models'] = [];
  const duck = await project.duck();
  for (const mm of models) {
    const hit: string[] = [];
    for (const t of mm.trained_on) {
      if (t.licences.some((l) => l.source === source)) {
        hit.push(t.dataset);
        continue;
      }
      const at = t.dataset.lastIndexOf('@');
      try {
        const m = await project.catalog.manifest(t.dataset.slice(0, at), Number(t.dataset.slice(at + 1)));
        const pred = sourcePredicate(m, source);
        if (pred && Number((await duck.one<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM (${scanSql(project.dataDir, m)}) WHERE ${pred}`)).n) > 0) hit.push(t.dataset);
      } catch {
        // a training dataset no longer in the catalog cannot be checked; it is not listed
      }
    }
    if (hit.length) out.push({ model: `${mm.name}@${mm.version}`, trainedOn: hit });
  }
  return out;
}
