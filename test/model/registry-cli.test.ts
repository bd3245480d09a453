// The model registry and the `models`, `model add`, `infer` commands: specs frozen from data,
// sha256 checked at load, bad input refused before the run with a message that says how to fix
// it, and a run killed with SIGKILL mid-way resumed by part to the same rows.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { dyadicMlp, type Fixture, fixture, linearMlpFile } from './fixture.ts';

const F = Array.from({ length: 32 }, (_, j) => `f${j}`);
const rowsSql = (from: number, to: number) => `SELECT range AS k, ${F.map((f, j) => `((((range * 7 + ${j}) % 13) - 6) / 8)::FLOAT AS ${f}`).join(', ')} FROM range(${from}, ${to})`;
const specYaml = `inputs:\n  - name: x\n    features:\n${F.map((f) => `      - number: ${f}\n        standardize: true\n`).join('')}`;

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
});
afterEach(async () => fx.close());

/** Runs the CLI in this process; returns the exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'sluice', '--project', fx.dir, '--threads', '1', ...args]);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

describe('model registry and CLI', () => {
  it('adds a model with a spec frozen from a dataset, lists it, and scores with it', async () => {
    await fx.dataset('train', rowsSql(0, 1000));
    writeFileSync(join(fx.dir, 'spec.yaml'), specYaml);
    const file = linearMlpFile(fx, dyadicMlp([32, 64, 1]));
    const added = await cli('--json', 'model', 'add', file, '--name', 'ctr', '--features', join(fx.dir, 'spec.yaml'), '--stats', 'train@1', '--trained-on', 'train@1', '--metric', 'auc=0.71');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out).model).toBe('ctr@1');
    const yaml = readFileSync(join(fx.dir, 'models', 'ctr', '1', 'model.yaml'), 'utf8');
    expect(yaml).toContain('frozen_from: train@1');
    expect(yaml).toContain('auc: 0.71');
    const listed = JSON.parse((await cli('--json', 'models')).out);
    expect(listed.map((m: { name: string; version: number }) => `${m.name}@${m.version}`)).toEqual(['ctr@1']);
    expect(listed[0].trained_on).toEqual([{ dataset: 'train@1', licences: [] }]);
    const mean0 = listed[0].features.inputs[0].features[0].standardize.mean;
    const duck = await fx.project.duck();
    const want = await duck.one<{ m: number }>(`SELECT avg(f0::DOUBLE) AS m FROM (${scanSql(fx.project.dataDir, await fx.project.catalog.manifest('train', 1))})`);
    expect(mean0).toBe(want.m);
    const run = await cli('--json', 'infer', '--model', 'ctr@1', '--data', 'train@1', '--keep', 'none', '--out', 'scored');
    expect(run.err).toBe('');
    expect(JSON.parse(run.out)).toEqual({ dataset: 'scored', version: 1, rows: 1000, deadletter: null });
    const m = await fx.project.catalog.manifest('scored', 1);
    expect(m.schema.map((c) => c.name)).toEqual(['_id', '_source', 'y']);
  });

  it('refuses a model file changed after it was added (sha256), before any work', async () => {
    await fx.dataset('pool', rowsSql(0, 100));
    const file = linearMlpFile(fx, dyadicMlp([32, 64, 1]));
    writeFileSync(join(fx.dir, 'spec.yaml'), `inputs:\n  - name: x\n    features:\n${F.map((f) => `      - number: ${f}\n`).join('')}`);
    expect((await cli('model', 'add', file, '--name', 'm', '--features', join(fx.dir, 'spec.yaml'))).code).toBe(0);
    appendFileSync(join(fx.dir, 'models', 'm', '1', 'model.onnx'), Buffer.from([0]));
    const r = await cli('infer', '--model', 'm@1', '--data', 'pool@1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^IntegrityError: model m@1: model\.onnx has sha256 [0-9a-f]{12}…, model\.yaml recorded [0-9a-f]{12}…\n  how to fix: the file was changed after it was added/);
    expect(await fx.project.catalog.head('pool-m')).toBeNull();
  });

  it('refuses a spec that does not match the model and data that lacks a column, saying how to fix it', async () => {
    await fx.dataset('pool', `SELECT range AS k, 1.0::FLOAT AS f0 FROM range(10)`);
    const file = linearMlpFile(fx, dyadicMlp([32, 64, 1]));
    writeFileSync(join(fx.dir, 'bad.yaml'), `inputs:\n  - name: features\n    features:\n      - number: f0\n`);
    const bad = await cli('model', 'add', file, '--name', 'm', '--features', join(fx.dir, 'bad.yaml'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('ConfigError: model ' + file + ': the model does not match its feature spec:\n  - the spec feeds input "features", the model has none (it has x)');
    writeFileSync(join(fx.dir, 'spec.yaml'), `inputs:\n  - name: x\n    features:\n${F.map((f) => `      - number: ${f}\n`).join('')}`);
    expect((await cli('model', 'add', file, '--name', 'm', '--features', join(fx.dir, 'spec.yaml'))).code).toBe(0);
    const missing = await cli('infer', '--model', 'm', '--data', 'pool');
    expect(missing.code).toBe(1);
    expect(missing.err.split('\n')[0]).toBe(`InputError: pool@1 has no column ${F.slice(1).map((f) => `"${f}"`).join(', ')}, which model m@1 reads`);
    const unknown = await cli('infer', '--model', 'nope', '--data', 'pool');
    expect(unknown.err.split('\n')[0]).toBe('NotFoundError: no model "nope" in ' + join(fx.dir, 'models'));
  });

  it('resumes a run killed with SIGKILL by part and commits the same rows as an uninterrupted run', async () => {
    const parts = Array.from({ length: 8 }, (_, i) => rowsSql(i * 60_000, (i + 1) * 60_000));
    await fx.dataset('pool', ...parts);
    const file = linearMlpFile(fx, dyadicMlp([32, 64, 1]));
    writeFileSync(join(fx.dir, 'spec.yaml'), `inputs:\n  - name: x\n    features:\n${F.map((f) => `      - number: ${f}\n`).join('')}`);
    expect((await cli('model', 'add', file, '--name', 'm', '--features', join(fx.dir, 'spec.yaml'))).code).toBe(0);
    const args = ['--project', fx.dir, '--threads', '1', '-q', 'infer', '--model', 'm@1', '--data', 'pool@1', '--keep', 'none', '--out', 'scored'];
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'sluice.js'), ...args], { stdio: 'ignore' });
    const db = new Database(join(fx.dir, '.sluice', 'catalog.db'), { readonly: true, fileMustExist: true });
    let done = 0;
    for (let i = 0; i < 3000 && done < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        done = (db.prepare(`SELECT count(*) AS n FROM task_results WHERE run_id LIKE 'infer-%'`).get() as { n: number }).n;
      } catch {
        // the schema may not be there yet
      }
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const kept = db.prepare(`SELECT task_id, attempt_id FROM task_results WHERE run_id LIKE 'infer-%'`).all() as { task_id: string; attempt_id: string }[];
    db.close();
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(8);
    expect(await fx.project.catalog.head('scored')).toBeNull();
    const rerun = await cli('--json', 'infer', '--model', 'm@1', '--data', 'pool@1', '--keep', 'none', '--out', 'scored');
    expect(JSON.parse(rerun.out).rows).toBe(480_000);
    const clean = await cli('--json', 'infer', '--model', 'm@1', '--data', 'pool@1', '--keep', 'none', '--out', 'clean');
    expect(JSON.parse(clean.out).rows).toBe(480_000);
    const duck = await fx.project.duck();
    const a = await fx.project.catalog.manifest('scored', 1);
    const b = await fx.project.catalog.manifest('clean', 1);
    const diff = await duck.one<{ n: number }>(
      `SELECT count(*)::INT AS n FROM ((SELECT _id, y FROM (${scanSql(fx.project.dataDir, a)}) EXCEPT SELECT _id, y FROM (${scanSql(fx.project.dataDir, b)})) ` +
        `UNION ALL (SELECT _id, y FROM (${scanSql(fx.project.dataDir, b)}) EXCEPT SELECT _id, y FROM (${scanSql(fx.project.dataDir, a)})))`,
    );
    expect(diff.n).toBe(0);
    // the tasks finished before the kill were not redone: their attempts' parts are in the version
    for (const t of kept) expect(a.parts.some((p) => p.path.includes(`/${t.task_id}/${t.attempt_id}/`))).toBe(true);
  });
});
