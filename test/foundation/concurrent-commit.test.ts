// Two `sluice import` processes commit on the same parent at once: without --append exactly one
// wins and the other fails with "head moved"; with --append both land, one rebased on the other.
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanSql } from '../../src/core/dataset.ts';
import { DuckSession } from '../../src/engine/duckdb.ts';
import { allManifests, assertVersionWhole, cliJson, dataDirOf, newProject, spawnCli, tempDir, removeTempDirs } from './helpers.ts';

const ROWS = 50_000;
let duck: DuckSession;
let fx: string;

beforeAll(async () => {
  duck = await DuckSession.open({ threads: 1 });
  fx = tempDir('sluice-race-');
  writeFileSync(join(fx, 'base.csv'), 'k,v\n' + Array.from({ length: 10 }, (_, i) => `${i},base`).join('\n') + '\n');
  for (const [name, offset] of [['a.csv', 100_000], ['b.csv', 200_000]] as const) {
    writeFileSync(join(fx, name), 'k,v\n' + Array.from({ length: ROWS }, (_, i) => `${offset + i},${name}`).join('\n') + '\n');
  }
});
afterAll(() => {
  duck.close();
  removeTempDirs();
});

function catalogOpenBy(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('catalog.db');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * Starts two imports "at the same moment": the test holds the catalog's write lock while both
 * processes load and open the catalog, so each reads head 1 and then waits for the lock; releasing
 * it lets them race. Without the barrier, one slow start could let the other finish first.
 */
async function raceTwoImports(project: string, extra: string[]) {
  const lock = new Database(join(project, '.sluice', 'catalog.db'));
  lock.exec('BEGIN IMMEDIATE');
  const runs = ['a.csv', 'b.csv'].map((f) => spawnCli(project, '--json', 'import', join(fx, f), '--name', 'ds', ...extra));
  const t0 = performance.now();
  while (!runs.every((r) => catalogOpenBy(r.child.pid!)) && performance.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000)); // both plan (read head 1) and block on beginRun
  lock.exec('ROLLBACK');
  lock.close();
  return Promise.all(runs.map((r) => r.done));
}

async function versionsWhole(project: string) {
  const { manifests } = await allManifests(project);
  for (const m of manifests) await assertVersionWhole(duck, dataDirOf(project), m);
  return manifests.sort((x, y) => x.version - y.version);
}

describe('two processes importing into the same dataset at once', () => {
  it('without --append: exactly one commits, the other exits 1 with "head moved"', async () => {
    const project = await newProject();
    await cliJson(project, 'import', join(fx, 'base.csv'), '--name', 'ds');
    const [ra, rb] = await raceTwoImports(project, []);
    const codes = [ra!.code, rb!.code];
    expect(codes.sort()).toEqual([0, 1]);
    const [winner, loser] = ra!.code === 0 ? [ra!, rb!] : [rb!, ra!];
    expect(loser.stderr).toContain('HeadMovedError: head moved: ds is at version 2, this commit was based on 1');
    expect(JSON.parse(winner.stdout)).toMatchObject({ dataset: 'ds', version: 2, rows: ROWS });
    const ms = await versionsWhole(project);
    expect(ms.map((m) => [m.version, m.rows, m.parents])).toEqual([[1, 10, []], [2, ROWS, ['ds@1']]]);
    const winnerFile = winner === ra ? 'a.csv' : 'b.csv';
    expect(ms[1]!.parts.map((p) => p.lineage?.file)).toEqual([winnerFile]);
  });

  it('with --append: both commit, one rebased on the other, and the last version holds the rows of both', async () => {
    const project = await newProject();
    await cliJson(project, 'import', join(fx, 'base.csv'), '--name', 'ds');
    const results = await raceTwoImports(project, ['--append']);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(results.map((r) => (JSON.parse(r.stdout) as { version: number }).version).sort()).toEqual([2, 3]);
    const [v1, v2, v3] = await versionsWhole(project);
    expect([v1!.rows, v2!.rows, v3!.rows]).toEqual([10, 10 + ROWS, 10 + 2 * ROWS]);
    expect(v2!.parents).toEqual(['ds@1']);
    expect(v3!.parents).toEqual(['ds@2']);
    // v3 = v2's parts (v1's part first) + one new part; every part path is distinct
    expect(v3!.parts.slice(0, 2).map((p) => p.path)).toEqual(v2!.parts.map((p) => p.path));
    expect(v2!.parts[0]!.path).toBe(v1!.parts[0]!.path);
    expect(new Set(v3!.parts.map((p) => p.path)).size).toBe(3);
    expect(v3!.parts.map((p) => p.lineage?.file).slice(1).sort()).toEqual(['a.csv', 'b.csv']);
    const c = await duck.one<{ n: number; ids: number; ks: number; a: number; b: number }>(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT _id)::INTEGER AS ids, count(DISTINCT k)::INTEGER AS ks,
              count(*) FILTER (v = 'a.csv')::INTEGER AS a, count(*) FILTER (v = 'b.csv')::INTEGER AS b
       FROM (${scanSql(dataDirOf(project), v3!)})`,
    );
    expect(c).toEqual({ n: 10 + 2 * ROWS, ids: 10 + 2 * ROWS, ks: 10 + 2 * ROWS, a: ROWS, b: ROWS });
  });
});
