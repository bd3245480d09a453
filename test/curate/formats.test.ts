// Every source format reaches the same target schema: CSV.gz, JSONL.gz, JSON arrays, Parquet,
// Arrow IPC; and an expired licence warns when a version holding its data is used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { parseRef } from '../../src/core/ref.ts';
import { warnings } from '../../src/core/warn.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { writeArrowIpc } from '../../src/io/arrow.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline } from '../../src/curate/pipeline.ts';

let dir: string;
let project: Project;
beforeAll(async () => {
  process.env.SLUICE_QUIET_WARNINGS = '1';
  dir = mkdtempSync(join(tmpdir(), 'sluice-formats-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  const duck = await project.duck();
  writeFileSync(join(dir, 'a.csv.gz'), gzipSync('sku,price\nA1,"1,000.5"\nA2,oops\n'));
  writeFileSync(join(dir, 'b.jsonl.gz'), gzipSync('{"sku":"B1","price":2}\n{"sku":"B2"\n'));
  writeFileSync(join(dir, 'c.json'), '[{"sku":"C1","price":3.5},{"sku":"C2","price":null}]');
  await duck.run(`COPY (SELECT * FROM (VALUES ('D1', 4.0), ('D2', -1.0)) t(sku, price)) TO ${lit(join(dir, 'd.parquet'))} (FORMAT parquet)`);
  await writeArrowIpc(duck, `SELECT * FROM (VALUES ('E1', 5.25)) t(sku, price)`, join(dir, 'e.arrow'));
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sources of every format', () => {
  it('map into one schema with per-record accounting', async () => {
    const p = definePipeline({
      target: 'products',
      schema: [
        { name: 'sku', type: 'string', nullable: false },
        { name: 'price', type: 'float' },
      ],
      sources: [
        { name: 'gz', files: ['a.csv.gz', 'b.jsonl.gz'], map: { price: { from: 'price', number: { thousands: ',' } } } },
        { name: 'typed', files: ['c.json', 'd.parquet', 'e.arrow'], licence: { owner: 'P', licence: 'old-deal', expires: '2020-01-01' } },
      ],
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    expect(r.stats.map((s) => [s.file, s.records, s.accepted, s.quarantined])).toEqual([
      ['a.csv.gz', 2, 1, 1],
      ['b.jsonl.gz', 2, 1, 1],
      ['c.json', 2, 2, 0],
      ['d.parquet', 2, 2, 0],
      ['e.arrow', 1, 1, 0],
    ]);
    const rows = await (await project.duck()).all<{ sku: string; price: number | null; rec: number }>(
      `SELECT sku, price, _source.record AS rec FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY sku`,
    );
    expect(rows).toEqual([
      { sku: 'A1', price: 1000.5, rec: 1 },
      { sku: 'B1', price: 2, rec: 1 },
      { sku: 'C1', price: 3.5, rec: 1 },
      { sku: 'C2', price: null, rec: 2 },
      { sku: 'D1', price: 4, rec: 1 },
      { sku: 'D2', price: -1, rec: 2 },
      { sku: 'E1', price: 5.25, rec: 1 },
    ]);
    expect(warnings).toContain('pipeline products: the licence of source typed (old-deal) expired on 2020-01-01');
  });

  it('warns at every use of a version whose data came under an expired licence', async () => {
    warnings.length = 0;
    await project.catalog.resolve(parseRef('products'));
    expect(warnings).toEqual(['products@1: the licence of source typed (old-deal) expired on 2020-01-01']);
  });

  it('reads value maps, booleans and thousands as written or folded, the same either way', async () => {
    // Spellings as written ('us', 'US', 'Us') are looked up first; the rest ('uS', ' us ', 'M ')
    // are folded; keys folding alike take the first key's value, on both paths.
    writeFileSync(
      join(dir, 'spell.csv'),
      'n,country,kind,ok,amount\n1,us,m,true,"1,234.5"\n2,US,M,True,7\n3,Us,M ,FALSE,"12,0"\n4,uS,male,0,x\n5, us ,MALE,yes,\n6,zz,m,maybe,1\n',
    );
    const p = definePipeline({
      target: 'spellings',
      schema: [
        { name: 'n', type: 'int' },
        { name: 'country', type: 'string' },
        { name: 'kind', type: 'string' },
        { name: 'ok', type: 'bool' },
        { name: 'amount', type: 'float' },
      ],
      sources: [
        {
          name: 's',
          files: 'spell.csv',
          map: {
            country: { from: 'country', values: { us: 'US' } },
            kind: { from: 'kind', values: { m: 'male', M: 'other', Male: 'male' } },
            amount: { from: 'amount', number: { thousands: ',' } },
          },
        },
      ],
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    const duck = await project.duck();
    expect(await duck.all(`SELECT n, country, kind, ok, amount FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY n`)).toEqual([
      { n: 1, country: 'US', kind: 'male', ok: true, amount: 1234.5 },
      { n: 2, country: 'US', kind: 'male', ok: true, amount: 7 },
      { n: 3, country: 'US', kind: 'male', ok: false, amount: 120 },
      { n: 5, country: 'US', kind: 'male', ok: true, amount: null },
    ]);
    const q = await project.catalog.resolve(parseRef('spellings-quarantine'));
    expect(await duck.all(`SELECT line, reason FROM (${scanSql(project.dataDir, q)}) ORDER BY line`)).toEqual([
      { line: 5, reason: 'amount: cannot read "x" as a number' },
      {
        line: 7,
        reason: 'country: unknown value "zz" (expected one of us); ok: cannot read "maybe" as one of true/t/yes/y/1/on/false/f/no/n/0/off',
      },
    ]);
  });
});
