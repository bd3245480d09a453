// Ingest with exact accounting: the golden fixture's every record ends accepted or quarantined with
// its file, line, raw text and reason; rows are exact; reruns are incremental; purge removes a source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { loadPipeline } from '../../src/curate/pipeline.ts';
import { purgeSource } from '../../src/curate/purge.ts';
import { main } from '../../src/cli/main.ts';
import { EXPECTED, writeGolden } from './golden.ts';

let dir: string;
let project: Project;

async function rows(ref: string, order = '_id'): Promise<Record<string, unknown>[]> {
  const [name, v] = ref.split('@') as [string, string];
  const m = await project.catalog.manifest(name, Number(v));
  return (await project.duck()).all(`SELECT * FROM (${scanSql(project.dataDir, m)}) ORDER BY ${order}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'));
  Project.init(dir);
  writeGolden(dir);
  project = await Project.open(dir, { threads: 1 });
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ingest of the golden fixture', () => {
  let result: Awaited<ReturnType<typeof curate>>;
  beforeAll(async () => {
    const { pipeline, baseDir } = loadPipeline(join(dir, 'pipeline.yaml'));
    result = await curate(project, pipeline, baseDir, new LocalRunner(await project.duck(), project.catalog));
  });

  it('accounts for every record of every file: records = accepted + quarantined, with the exact counts', () => {
    const got = result.stats.map((s) => ({ file: s.file, records: s.records, accepted: s.accepted, quarantined: s.quarantined })).sort((a, b) => a.file.localeCompare(b.file));
    expect(got).toEqual(EXPECTED.map((e) => ({ file: e.file, records: e.records, accepted: e.accepted, quarantined: Object.keys(e.quarantined).length })));
    expect(result.manifest!.rows).toBe(9);
  });

  it('leaves no scratch copy of an input behind (the clean files the COPY read are removed)', () => {
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => /(^|\/)(clean\.txt[^/]*|query\.csv)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)part-0\.parquet$/.test(f)).length).toBeGreaterThanOrEqual(EXPECTED.length);
  });

  it('quarantines each damaged record with its file, line, raw text and reason', async () => {
    const q = await rows('events-quarantine@1', 'file, line');
    const expected = EXPECTED.flatMap((e) => Object.entries(e.quarantined).map(([line, reason]) => ({ file: e.file, line: Number(line), reason })));
    expect(q.map((r) => ({ file: r.file, line: r.line }))).toEqual(expected.map(({ file, line }) => ({ file, line })));
    for (const [i, e] of expected.entries()) expect(String(q[i]!.reason)).toContain(e.reason);
    const stray = q.find((r) => r.line === 8)!;
    expect(stray.raw).toBe('6,fr"ank,2026-10-01 15:00,7,false,M');
    expect(q.find((r) => r.file === 'data/clicks.jsonl' && r.line === 5)!.raw).toBe('[1, 2, 3]');
    expect(q.find((r) => r.line === 10)!.raw).toBe(`8,${'x'.repeat(3000)},2026-10-01 17:00,9,yes,M`);
  });

  it('maps the good records exactly: formats, thousands separators, booleans, enum spellings, derived fields', async () => {
    const r = await rows('events@1', 'id');
    expect(r.map((x) => [x.id, x.user, x.ts, x.amount, x.flag, x.kind, x.big])).toEqual([
      [1, 'alice', '2026-10-01 10:00:00', 1250.5, true, 'male', true],
      [2, 'bob', '2026-10-01 11:30:00', 3, false, 'male', false],
      [3, 'carol\nsmith', '2026-10-01 12:00:00', 4, true, 'female', false],
      [16, 'trent, jr', '2026-10-02 00:00:00', 16, false, 'female', false],
      [100, 'alice', '2026-10-01 10:05:00', 2.5, true, 'male', false],
      [101, 'bob', '2026-10-01 10:06:00', 3, false, 'male', false],
      [105, 'frank', '2026-10-01 10:10:00', 1000, true, 'male', true],
      [200, 'zoe', '2026-10-03 09:00:00', 1, true, 'female', false],
      [201, 'yann', '2026-10-03 09:01:00', 2, false, 'male', false],
    ]);
  });

  it('gives every row an _id from its file hash and record number, and a _source with file, record and first line', async () => {
    const sha = createHash('sha256').update(readFileSync(join(dir, 'data', 'impressions.csv'))).digest('hex').slice(0, 16);
    const carol = (await rows('events@1', 'id')).find((x) => x.id === 3)!;
    expect(carol._id).toBe(`${sha}:3`);
    expect(carol._source).toEqual({ source: 'csv-log', file: 'data/impressions.csv', record: 3, line: 4 });
    const trent = (await rows('events@1')).find((x) => x.id === 16)!;
    expect(trent._source).toMatchObject({ record: 16, line: 18 });
  });

  it('records the target schema, the licences and the per-file counts in the version', async () => {
    const m = await project.catalog.manifest('events', 1);
    expect(m.schema.map((c) => `${c.name}:${c.type}`)).toEqual([
      '_id:VARCHAR',
      '_source:STRUCT("source" VARCHAR, file VARCHAR, record BIGINT, line BIGINT)',
      'id:BIGINT',
      'user:VARCHAR',
      'ts:TIMESTAMP',
      'amount:DOUBLE',
      'flag:BOOLEAN',
      'kind:VARCHAR',
      'big:BOOLEAN',
    ]);
    expect(m.schema.find((c) => c.name === 'big')!.description).toBe('derived');
    expect(m.licences).toEqual([{ source: 'app-events', owner: 'app-team', licence: 'internal' }]);
    expect(m.extra!.run).toEqual({ files: 5, records: 26, accepted: 9, quarantined: 17, review: 0 });
  });

  it('notes the renamed duplicate header and the empty file', () => {
    expect(result.stats.find((s) => s.file === 'data/dup-header.tsv')!.notes).toEqual(['duplicate header names renamed: kind→kind__2']);
    expect(result.stats.find((s) => s.file === 'data/empty.csv')!.notes).toEqual(['empty file']);
  });

  it('reruns incrementally: only a new file is read, and the new version shares the old parts', async () => {
    writeFileSync(join(dir, 'data', 'more.csv'), 'id,user,ts,amount,flag,kind\n300,walter,2026-10-04 08:00,5,yes,m\n301,xena,bad-date,5,yes,m\n');
    const { pipeline, baseDir } = loadPipeline(join(dir, 'pipeline.yaml'));
    const again = await curate(project, pipeline, baseDir, new LocalRunner(await project.duck(), project.catalog));
    expect(again.stats.map((s) => [s.file, s.records, s.accepted, s.quarantined])).toEqual([['data/more.csv', 2, 1, 1]]);
    expect(again.skipped.length).toBe(5);
    const v1 = await project.catalog.manifest('events', 1);
    const v2 = again.manifest!;
    expect(v2.version).toBe(2);
    expect(v2.rows).toBe(10);
    for (const p of v1.parts) expect(v2.parts.map((q) => q.path)).toContain(p.path);
    expect((await project.catalog.manifest('events-quarantine', 2)).rows).toBe(18);
    const none = await curate(project, pipeline, baseDir, new LocalRunner(await project.duck(), project.catalog));
    expect(none.manifest).toBeNull();
    expect(await project.catalog.head('events')).toBe(2);
  });

  it('purges a source: new versions without its rows in the dataset and in the quarantine', async () => {
    const r = await purgeSource(project, 'app-events');
    expect(r.datasets).toEqual([
      { dataset: 'events', from: 2, to: 3, removedRows: 3, droppedParts: 1 },
      { dataset: 'events-quarantine', from: 2, to: 3, removedRows: 4, droppedParts: 1 },
    ]);
    const after = await rows('events@3');
    expect(after.length).toBe(7);
    expect(after.every((x) => (x._source as { source: string }).source === 'csv-log')).toBe(true);
    expect((await project.catalog.manifest('events', 3)).licences).toEqual([]);
    expect((await rows('events@2')).length).toBe(10); // history keeps the old version
  });
});

describe('curate from the command line', () => {
  it('fails before committing anything when the pipeline names a column a file lacks, and says how to fix it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-ingest-cli-'));
    Project.init(d);
    writeFileSync(join(d, 'a.csv'), 'x,y\n1,2\n');
    writeFileSync(join(d, 'p.yaml'), 'target: t\nschema:\n  - { name: z, type: int, nullable: false }\nsources:\n  - { name: s, files: a.csv, map: { z: missing_col } }\n');
    const errs: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (errs.push(String(s)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['node', 'sluice', '--project', d, 'curate', join(d, 'p.yaml')])).toBe(1);
    } finally {
      process.stderr.write = orig;
    }
    expect(errs.join('')).toContain('no column "missing_col" for field z');
    const p = await Project.open(d);
    expect(await p.catalog.listDatasets()).toEqual([]);
    await p.close();
    rmSync(d, { recursive: true, force: true });
  });

  it('rejects a malformed pipeline with the field path, the expected and the received', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-ingest-cfg-'));
    writeFileSync(join(d, 'p.yaml'), 'target: t\nschema:\n  - { name: z, type: integer }\nsources: []\n');
    expect(() => loadPipeline(join(d, 'p.yaml'))).toThrow(/schema\.0\.type: Invalid option: expected one of "string"\|"int"/);
    rmSync(d, { recursive: true, force: true });
  });
});
