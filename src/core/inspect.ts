// Looking at versions: a summary (`show`) and the difference between two (`diff`, by `_id`).
import type { Project } from './project.ts';
import { parseRef } from './ref.ts';
import { scanSql, verifyManifest } from './dataset.ts';
import type { Column, Manifest } from './manifest.ts';

export interface ShowResult {
  dataset: string;
  version: number;
  rows: number;
  parts: number;
  bytes: number;
  schema: Column[];
  parents: string[];
  operation: string;
  config_hash: string;
  licences: Manifest['licences'];
  created_at: string;
  versions: { version: number; rows: number; operation: string; created_at: string }[];
  tags: { tag: string; version: number }[];
  sample: Record<string, unknown>[];
}

export async function showVersion(project: Project, refText: string, sampleRows = 5): Promise<ShowResult> {
  const m = await project.catalog.resolve(parseRef(refText));
  await verifyManifest(project.dataDir, m);
  const duck = await project.duck();
  const sample = sampleRows > 0 ? await duck.all(`SELECT * FROM (${scanSql(project.dataDir, m)}) LIMIT ${sampleRows}`) : [];
  return {
    dataset: m.dataset,
    version: m.version,
    rows: m.rows,
    parts: m.parts.length,
    bytes: m.parts.reduce((n, p) => n + p.bytes + (p.deletes?.bytes ?? 0), 0),
    schema: m.schema,
    parents: m.parents,
    operation: m.operation,
    config_hash: m.config_hash,
    licences: m.licences,
    created_at: m.created_at,
    versions: (await project.catalog.versions(m.dataset)).map(({ version, rows, operation, created_at }) => ({ version, rows, operation, created_at })),
    tags: await project.catalog.tags(m.dataset),
    sample,
  };
}

export interface DiffResult {
  a: string;
  b: string;
  schema: { added: Column[]; removed: Column[]; changed: { name: string; from: string; to: string }[] };
  rows: { a: number; b: number; added: number; removed: number; kept: number };
  sharedParts: number;
  sample: { added: string[]; removed: string[] };
}

export async function diffVersions(project: Project, aText: string, bText: string, sample = 5): Promise<DiffResult> {
  const a = await project.catalog.resolve(parseRef(aText));
  const b = await project.catalog.resolve(parseRef(bText));
  await verifyManifest(project.dataDir, a);
  await verifyManifest(project.dataDir, b);
  const byName = (cs: Column[]) => new Map(cs.map((c) => [c.name, c]));
  const sa = byName(a.schema);
  const sb = byName(b.schema);
  const added = b.schema.filter((c) => !sa.has(c.name));
  const removed = a.schema.filter((c) => !sb.has(c.name));
  const changed = b.schema.filter((c) => sa.has(c.name) && sa.get(c.name)!.type !== c.type).map((c) => ({ name: c.name, from: sa.get(c.name)!.type, to: c.type }));
  const duck = await project.duck();
  const ids = (m: Manifest) => `(SELECT _id FROM (${scanSql(project.dataDir, m)}))`;
  await duck.run(`CREATE OR REPLACE TEMP TABLE diff_a AS ${ids(a)}; CREATE OR REPLACE TEMP TABLE diff_b AS ${ids(b)}`);
  const counts = await duck.one<{ added: number; removed: number; kept: number }>(
    `SELECT (SELECT count(*) FROM (FROM diff_b EXCEPT ALL FROM diff_a))::BIGINT AS added,
            (SELECT count(*) FROM (FROM diff_a EXCEPT ALL FROM diff_b))::BIGINT AS removed,
            (SELECT count(*) FROM (FROM diff_a INTERSECT ALL FROM diff_b))::BIGINT AS kept`,
  );
  const pick = async (x: string, y: string) =>
    (await duck.all<{ _id: string }>(`SELECT _id FROM (FROM ${x} EXCEPT ALL FROM ${y}) ORDER BY _id LIMIT ${sample}`)).map((r) => r._id);
  const result: DiffResult = {
    a: `${a.dataset}@${a.version}`,
    b: `${b.dataset}@${b.version}`,
    schema: { added, removed, changed },
    rows: { a: a.rows, b: b.rows, added: Number(counts.added), removed: Number(counts.removed), kept: Number(counts.kept) },
    sharedParts: b.parts.filter((p) => a.parts.some((q) => q.path === p.path)).length,
    sample: { added: await pick('diff_b', 'diff_a'), removed: await pick('diff_a', 'diff_b') },
  };
  await duck.run('DROP TABLE diff_a; DROP TABLE diff_b');
  return result;
}
