// Datasets through the CLI: init, import of every format, _id/_source lineage, append, show, diff,
// export and re-import, spreadsheet-safe CSV, tags, gc and the dataset list.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckSession, lit } from '../../src/engine/duckdb.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { allManifests, cli, cliJson, cliRaw, dataDirOf, newProject, parseCsv, readRows, sha256, tempDir, walkFiles, removeTempDirs } from './helpers.ts';

const ROWS = [
  { id: 1, name: 'alpha', score: 1.5 },
  { id: 2, name: 'beta', score: -2.25 },
  { id: 3, name: 'gamma, "g"', score: 0 },
];

let fx: string; // fixture folder
let duck: DuckSession;

/** Writes the three ROWS in every format sluice reads; returns the paths by label. */
async function writeFixtures(dir: string): Promise<Record<string, string>> {
  const csv = 'id,name,score\n1,alpha,1.5\n2,beta,-2.25\n3,"gamma, ""g""",0\n';
  const jsonl = ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const f: Record<string, string> = {
    csv: join(dir, 'rows.csv'),
    tsv: join(dir, 'rows.tsv'),
    jsonl: join(dir, 'rows.jsonl'),
    json: join(dir, 'rows.json'),
    parquet: join(dir, 'rows.parquet'),
    arrow: join(dir, 'rows.arrow'),
    'csv.gz': join(dir, 'rows.csv.gz'),
    'jsonl.gz': join(dir, 'rows.jsonl.gz'),
  };
  writeFileSync(f.csv!, csv);
  writeFileSync(f.tsv!, 'id\tname\tscore\n1\talpha\t1.5\n2\tbeta\t-2.25\n3\tgamma, "g"\t0\n');
  writeFileSync(f.jsonl!, jsonl);
  writeFileSync(f.json!, JSON.stringify(ROWS, null, 1));
  await duck.run(
    `COPY (SELECT * FROM (VALUES (1, 'alpha', 1.5::DOUBLE), (2, 'beta', -2.25), (3, 'gamma, "g"', 0)) t(id, name, score) ORDER BY id)
     TO ${lit(f.parquet!)} (FORMAT parquet)`,
  );
  const table = tableFromArrays({
    id: Int32Array.from(ROWS.map((r) => r.id)),
    name: ROWS.map((r) => r.name),
    score: Float64Array.from(ROWS.map((r) => r.score)),
  });
  writeFileSync(f.arrow!, tableToIPC(table, 'file'));
  writeFileSync(f['csv.gz']!, gzipSync(csv));
  writeFileSync(f['jsonl.gz']!, gzipSync(jsonl));
  return f;
}

/** What export gives back for ROWS imported from `file` into a dataset whose source is `source`. */
function expectedRows(file: string, source: string) {
  const prefix = sha256(file).slice(0, 16);
  return ROWS.map((r, i) => ({ _id: `${prefix}:${i + 1}`, _source: { source, file: basename(file), record: i + 1 }, ...r }));
}

function ids(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => r._id as string).sort();
}

beforeAll(async () => {
  duck = await DuckSession.open({ threads: 1 });
  fx = tempDir('sluice-fx-');
});
afterAll(() => {
  duck.close();
  removeTempDirs();
});

describe('sluice init', () => {
  it('creates sluice.yaml and the store, and refuses to init the same folder twice (exit 2)', async () => {
    const dir = join(tempDir(), 'p');
    const r = await cliRaw('init', dir, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ root: dir });
    expect(existsSync(join(dir, 'sluice.yaml'))).toBe(true);
    expect(existsSync(join(dir, '.sluice', 'catalog.db'))).toBe(true);
    const again = await cliRaw('init', dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${join(dir, 'sluice.yaml')} already exists`);
  });
});

describe('sluice import of every format', () => {
  let project: string;
  let files: Record<string, string>;
  beforeAll(async () => {
    project = await newProject();
    files = await writeFixtures(fx);
  });

  for (const label of ['csv', 'tsv', 'jsonl', 'json', 'parquet', 'arrow', 'csv.gz', 'jsonl.gz']) {
    it(`imports ${label}: 3 rows with exact values, _id = sha256 prefix:record and _source`, async () => {
      const name = `rows-${label.replace('.', '-')}`;
      const r = await cliJson<{ dataset: string; version: number; rows: number; parts: number }>(project, 'import', files[label]!, '--name', name);
      expect(r).toMatchObject({ dataset: name, version: 1, rows: 3, parts: 1 });
      expect(await readRows(project, name)).toEqual(expectedRows(files[label]!, name));
    });
  }

  it('gives the same _ids when the same file is imported again, into a new version or another dataset', async () => {
    const first = await readRows(project, 'rows-csv');
    const again = await cliJson<{ version: number }>(project, 'import', files.csv!, '--name', 'rows-csv');
    expect(again.version).toBe(2);
    await cliJson(project, 'import', files.csv!, '--name', 'rows-csv-copy', '--source', 'rows-csv');
    expect(await readRows(project, 'rows-csv@2')).toEqual(first);
    expect(await readRows(project, 'rows-csv-copy')).toEqual(first);
    const d = await cliJson<{ rows: { added: number; removed: number; kept: number } }>(project, 'diff', 'rows-csv@1', 'rows-csv@2');
    expect(d.rows).toEqual({ a: 3, b: 3, added: 0, removed: 0, kept: 3 });
  });

  it('lists every dataset with its head and rows', async () => {
    const ds = await cliJson<{ name: string; head: number; rows: number }[]>(project, 'datasets');
    expect(ds.map((d) => [d.name, d.head, d.rows])).toEqual([
      ['rows-arrow', 1, 3],
      ['rows-csv', 2, 3],
      ['rows-csv-copy', 1, 3],
      ['rows-csv-gz', 1, 3],
      ['rows-json', 1, 3],
      ['rows-jsonl', 1, 3],
      ['rows-jsonl-gz', 1, 3],
      ['rows-parquet', 1, 3],
      ['rows-tsv', 1, 3],
    ]);
  });
});

describe('versions of one dataset: append, show, diff, export, tags', () => {
  let project: string;
  let a: string;
  let b: string;
  let c: string;
  let m1: Manifest;
  let m2: Manifest;
  beforeAll(async () => {
    project = await newProject();
    const dir = tempDir('sluice-fx-');
    a = join(dir, 'a.csv');
    b = join(dir, 'b.jsonl');
    c = join(dir, 'c.csv');
    writeFileSync(a, 'k,note\n1,plain\n2,=SUM(A1:A2)\n3,+cmd\n');
    writeFileSync(b, ['-2+3', '@SUM(1)', '\tlead tab', '\rlead cr', 'a=b'].map((note, i) => JSON.stringify({ k: 10 + i, note })).join('\n') + '\n');
    writeFileSync(c, 'k,note\n100,x\n101,y\n');
  });

  it('imports a first version with licence and owner, shown by `show`', async () => {
    expect(await cliJson(project, 'import', a, '--name', 'notes', '--licence', 'CC-BY-4.0', '--owner', 'Acme')).toMatchObject({ version: 1, rows: 3 });
    const s = await cliJson<Record<string, unknown>>(project, 'show', 'notes');
    expect(s).toMatchObject({ dataset: 'notes', version: 1, rows: 3, parts: 1, parents: [], operation: 'import' });
    expect(s.licences).toEqual([{ source: 'notes', licence: 'CC-BY-4.0', owner: 'Acme' }]);
    expect(s.schema).toEqual([
      { name: '_id', type: 'VARCHAR', nullable: false },
      { name: '_source', type: 'STRUCT("source" VARCHAR, file VARCHAR, record BIGINT)', nullable: false },
      { name: 'k', type: 'BIGINT', nullable: true },
      { name: 'note', type: 'VARCHAR', nullable: true },
    ]);
    m1 = (await allManifests(project)).manifests.find((m) => m.version === 1)!;
  });

  it('refuses --owner without --licence as bad usage (exit 2)', async () => {
    const r = await cli(project, 'import', a, '--name', 'notes', '--owner', 'Acme');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--owner needs --licence');
  });

  it('appends: the new version shares the previous part, adds one, and the rows add up', async () => {
    expect(await cliJson(project, 'import', b, '--name', 'notes', '--append')).toMatchObject({ version: 2, rows: 8, parts: 2 });
    m2 = (await allManifests(project)).manifests.find((m) => m.version === 2)!;
    expect(m2.parts[0]!.path).toBe(m1.parts[0]!.path);
    expect(m2.parts[0]!.sha256).toBe(m1.parts[0]!.sha256);
    expect(m2.parts[1]!.path).not.toBe(m1.parts[0]!.path);
    expect(m2.parts.map((p) => p.rows)).toEqual([3, 5]);
    const s = await cliJson<Record<string, unknown>>(project, 'show', 'notes@2');
    expect(s).toMatchObject({ version: 2, rows: 8, parents: ['notes@1'], operation: 'import-append' });
    expect(s.licences).toEqual([{ source: 'notes', licence: 'CC-BY-4.0', owner: 'Acme' }]);
    const rows = await readRows(project, 'notes@2');
    expect(rows.map((r) => r.k)).toEqual([1, 2, 3, 10, 11, 12, 13, 14]);
    const pb = sha256(b).slice(0, 16);
    expect(rows[3]).toEqual({ _id: `${pb}:1`, _source: { source: 'notes', file: 'b.jsonl', record: 1 }, k: 10, note: '-2+3' });
  });

  it('diffs by _id: exact added, removed and kept counts', async () => {
    const d12 = await cliJson<{ rows: unknown; sharedParts: number; sample: { added: string[] } }>(project, 'diff', 'notes@1', 'notes@2');
    expect(d12.rows).toEqual({ a: 3, b: 8, added: 5, removed: 0, kept: 3 });
    expect(d12.sharedParts).toBe(1);
    const pb = sha256(b).slice(0, 16);
    expect(d12.sample.added).toEqual([1, 2, 3, 4, 5].map((i) => `${pb}:${i}`));
    // notes@3 replaces everything with c.csv (not --append)
    expect(await cliJson(project, 'import', c, '--name', 'notes')).toMatchObject({ version: 3, rows: 2 });
    const d23 = await cliJson<{ rows: unknown }>(project, 'diff', 'notes@2', 'notes@3');
    expect(d23.rows).toEqual({ a: 8, b: 2, added: 2, removed: 8, kept: 0 });
  });

  it('keeps _ids when an exported file with a row removed comes back: diff shows exactly that row removed', async () => {
    const out = join(tempDir(), 'notes2.jsonl');
    await cliJson(project, 'export', 'notes@2', '--format', 'jsonl', '--out', out);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(8);
    const edited = join(tempDir(), 'edited.jsonl');
    writeFileSync(edited, lines.filter((_, i) => i !== 4).join('\n') + '\n');
    await cliJson(project, 'import', edited, '--name', 'notes-edit');
    const d = await cliJson<{ rows: unknown; sample: { removed: string[] } }>(project, 'diff', 'notes@2', 'notes-edit@1');
    expect(d.rows).toEqual({ a: 8, b: 7, added: 0, removed: 1, kept: 7 });
    expect(d.sample.removed).toEqual([`${sha256(b).slice(0, 16)}:2`]);
  });

  for (const format of ['parquet', 'jsonl', 'csv', 'tsv', 'arrow'] as const) {
    it(`exports to ${format} and re-imports with the same _ids, _source and values`, async () => {
      const before = await readRows(project, 'notes@2');
      const out = join(tempDir(), `notes.${format}`);
      expect(await cliJson(project, 'export', 'notes@2', '--format', format, '--out', out)).toMatchObject({ ref: 'notes@2', rows: 8, path: out });
      await cliJson(project, 'import', out, '--name', `back-${format}`);
      const after = await readRows(project, `back-${format}`);
      expect(ids(after)).toEqual(ids(before));
      const byId = new Map(after.map((r) => [r._id, r]));
      for (const r of before) {
        const back = byId.get(r._id)!;
        expect(back._source).toEqual(r._source);
        expect(back.k).toEqual(r.k);
        // csv/tsv carry the spreadsheet quote on dangerous cells; the other formats carry the text as is
        if (format === 'csv' || format === 'tsv') expect(back.note === r.note || back.note === `'${r.note}`).toBe(true);
        else expect(back.note).toEqual(r.note);
      }
    });
  }

  it('prefixes CSV cells starting with = + - @ tab or CR with a quote, and leaves other cells and numbers alone', async () => {
    const out = join(tempDir(), 'notes.csv');
    await cliJson(project, 'export', 'notes@2', '--format', 'csv', '--out', out);
    const rows = parseCsv(readFileSync(out, 'utf8'));
    expect(rows[0]).toEqual(['_id', '_source', 'k', 'note']);
    expect(rows.slice(1).map((r) => [r[2], r[3]])).toEqual([
      ['1', 'plain'],
      ['2', "'=SUM(A1:A2)"],
      ['3', "'+cmd"],
      ['10', "'-2+3"],
      ['11', "'@SUM(1)"],
      ['12', "'\tlead tab"],
      ['13', "'\rlead cr"],
      ['14', 'a=b'],
    ]);
    expect(rows[1]![1]).toBe('{"source":"notes","file":"a.csv","record":1}');
  });

  it('does the same for TSV', async () => {
    const out = join(tempDir(), 'notes.tsv');
    await cliJson(project, 'export', 'notes@2', '--format', 'tsv', '--out', out);
    const rows = parseCsv(readFileSync(out, 'utf8'), '\t');
    expect(rows.slice(1).map((r) => r[3])).toEqual(['plain', "'=SUM(A1:A2)", "'+cmd", "'-2+3", "'@SUM(1)", "'\tlead tab", "'\rlead cr", 'a=b']);
  });

  it('tags a version, moves the tag, lists it, and deletes it', async () => {
    expect(await cliJson(project, 'tag', 'notes@1', 'gold')).toEqual({ dataset: 'notes', tag: 'gold', version: 1 });
    expect(await cliJson(project, 'show', 'notes@gold')).toMatchObject({ version: 1, rows: 3 });
    expect(await cliJson(project, 'tag', 'notes@2', 'gold')).toEqual({ dataset: 'notes', tag: 'gold', version: 2 });
    expect(await cliJson(project, 'show', 'notes@gold')).toMatchObject({ version: 2, rows: 8 });
    expect(await cliJson(project, 'tag', 'notes')).toEqual([{ tag: 'gold', version: 2 }]);
    expect(await cliJson(project, 'tag', 'notes', 'gold', '--delete')).toEqual({ dataset: 'notes', tag: 'gold', deleted: true });
    const gone = await cli(project, 'show', 'notes@gold');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NotFoundError: tag notes@gold does not exist');
  });

  it('gc --min-age 0 removes exactly the unreferenced files and keeps every referenced one', async () => {
    const data = dataDirOf(project);
    const orphans = ['notes/runs/crashed-run/m00000/dead/part-0.parquet', 'stray.bin', 'notes/leftover.tmp'];
    for (const o of orphans) {
      mkdirSync(join(data, o, '..'), { recursive: true });
      writeFileSync(join(data, o), 'orphan bytes');
    }
    const { referenced } = await allManifests(project);
    const before = walkFiles(data);
    expect(before).toEqual([...new Set([...referenced, ...orphans])].sort());
    const dry = await cliJson<{ removed: number; files: string[] }>(project, 'gc', '--min-age', '0', '--dry-run');
    expect(dry.files.sort()).toEqual([...orphans].sort());
    expect(walkFiles(data)).toEqual(before);
    const r = await cliJson<{ removed: number; kept: number; files: string[]; bytesFreed: number }>(project, 'gc', '--min-age', '0');
    expect(r.files.sort()).toEqual([...orphans].sort());
    expect([r.removed, r.kept, r.bytesFreed]).toEqual([3, referenced.size, 3 * 'orphan bytes'.length]);
    expect(walkFiles(data)).toEqual([...referenced].sort());
    expect(existsSync(join(data, 'notes/runs/crashed-run'))).toBe(false);
    for (const ref of ['notes@1', 'notes@2', 'notes@3', 'notes-edit@1']) expect((await cli(project, 'show', ref)).code).toBe(0);
  });

  it('gc keeps unreferenced files younger than --min-age', async () => {
    const data = dataDirOf(project);
    writeFileSync(join(data, 'fresh.tmp'), 'x');
    const r = await cliJson<{ removed: number; files: string[] }>(project, 'gc', '--min-age', '1h');
    expect(r.removed).toBe(0);
    expect(existsSync(join(data, 'fresh.tmp'))).toBe(true);
  });
});
