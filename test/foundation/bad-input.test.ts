// Bad input: every failure names its class, the file or ref at fault, exits 1 (2 for bad usage),
// and leaves the catalog exactly as it was.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog } from '../../src/store/open.ts';
import { allManifests, BIN, catalogState, cli, dataDirOf, newProject, tempDir, walkFiles, removeTempDirs } from './helpers.ts';

let project: string;
let fx: string;

afterAll(removeTempDirs);

/** A project holding `good@1` (3 rows) and `good@2` (3 more, appended). */
beforeEach(async () => {
  project = await newProject();
  fx = tempDir('sluice-bad-');
  writeFileSync(join(fx, 'one.csv'), 'k,v\n1,a\n2,b\n3,c\n');
  writeFileSync(join(fx, 'two.csv'), 'k,v\n4,d\n5,e\n6,f\n');
  expect((await cli(project, 'import', join(fx, 'one.csv'), '--name', 'good')).code).toBe(0);
  expect((await cli(project, 'import', join(fx, 'two.csv'), '--name', 'good', '--append')).code).toBe(0);
});

/** Runs the command, checks it failed as expected, and that datasets, heads and files are unchanged. */
async function failsCleanly(args: string[], expected: { code: 1 | 2; stderr: (string | RegExp)[] }): Promise<string> {
  const before = await catalogState(project);
  const files = walkFiles(dataDirOf(project));
  const r = await cli(project, ...args);
  expect(r.code).toBe(expected.code);
  expect(r.stdout).toBe('');
  for (const s of expected.stderr) expect(r.stderr).toMatch(s);
  expect(await catalogState(project)).toEqual(before);
  // a failed import may leave its attempt folder (gc collects it) but removes no file
  const after = new Set(walkFiles(dataDirOf(project)));
  expect(files.filter((f) => !after.has(f))).toEqual([]);
  return r.stderr;
}

async function corruptManifest(version: number, text: string): Promise<void> {
  const cat = await openCatalog({ kind: 'sqlite', path: join(project, '.sluice', 'catalog.db') });
  await cat.db.run('UPDATE versions SET manifest = ? WHERE dataset = ? AND version = ?', [text, 'good', version]);
  await cat.close();
}

async function partOf(version: number, index = 0): Promise<string> {
  const m = (await allManifests(project)).manifests.find((x) => x.dataset === 'good' && x.version === version)!;
  return join(dataDirOf(project), m.parts[index]!.path);
}

describe('importing bad files', () => {
  it('refuses a missing file, naming it', async () => {
    const missing = join(fx, 'missing.csv');
    await failsCleanly(['import', missing, '--name', 'good'], { code: 1, stderr: [`InputError: cannot read ${missing}: no such file`] });
  });

  it('refuses a folder given as a file', async () => {
    const dir = join(fx, 'folder.csv');
    mkdirSync(dir);
    await failsCleanly(['import', dir, '--name', 'good'], { code: 1, stderr: [`InputError: ${dir} is a folder`] });
  });

  // Tests run as root, which reads a chmod 000 file anyway; so the import runs as `nobody` in a
  // child process, over a copy of the project made writable for it.
  it('refuses a file the user may not read (chmod 000, run as nobody)', async () => {
    const secret = join(fx, 'secret.csv');
    writeFileSync(secret, 'k,v\n1,a\n');
    const before = await catalogState(project);
    spawnSync('chmod', ['-R', 'a+rwX', fx, join(project, '..')]);
    chmodSync(secret, 0o000);
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    // `nobody` must be able to reach the checkout: a clone inside a 0700 temp folder (as CI makes)
    // gets o+x on its ancestors for the length of the test.
    const restore: [string, number][] = [];
    for (let d = dirname(BIN); d !== dirname(d); d = dirname(d)) {
      const mode = statSync(d).mode & 0o7777;
      if (!(mode & 0o001)) {
        restore.push([d, mode]);
        chmodSync(d, mode | 0o001);
      }
    }
    let r;
    try {
      r = spawnSync(process.execPath, [BIN, '--project', project, 'import', secret, '--name', 'good'], { cwd: fx, encoding: 'utf8', ...asNobody });
    } finally {
      for (const [d, mode] of restore) chmodSync(d, mode);
    }
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`InputError: cannot read ${secret}: EACCES`);
    expect(await catalogState(project)).toEqual(before);
  });

  it('refuses an unknown extension, naming the file and the extension', async () => {
    const f = join(fx, 'rows.xyz');
    writeFileSync(f, 'k,v\n1,a\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: unknown format for ${f}: extension ".xyz"`] });
  });

  it('refuses a CSV with broken quoting', async () => {
    const f = join(fx, 'quote.csv');
    writeFileSync(f, 'k,v\n1,a\n2,"broken\n3,c\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`] });
  });

  it('refuses a CSV with broken quoting far past the sniffer sample, naming the line', async () => {
    const f = join(fx, 'late-quote.csv');
    const lines = ['k,v', ...Array.from({ length: 30_000 }, (_, i) => `${i},v${i}`)];
    lines.splice(25_001, 0, '99,"broken'); // line 25002 of the file: the header is line 1
    writeFileSync(f, lines.join('\n') + '\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`, 'CSV Error on Line: 25002', 'Original Line: 99,"broken'] });
  });

  it('refuses a CSV row with the wrong number of columns, naming the line', async () => {
    const f = join(fx, 'cols.csv');
    const lines = ['k,v', ...Array.from({ length: 30_000 }, (_, i) => `${i},v${i}`)];
    lines.splice(25_001, 0, '99,x,extra'); // line 25002
    writeFileSync(f, lines.join('\n') + '\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`, 'CSV Error on Line: 25002', 'Expected Number of Columns: 2 Found: 3'] });
  });

  it('refuses a short CSV with a missing column', async () => {
    const f = join(fx, 'short.csv');
    writeFileSync(f, 'k,v\n1,a\n2\n3,c\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`] });
  });

  it('refuses a malformed JSONL line, naming the line', async () => {
    const f = join(fx, 'bad.jsonl');
    writeFileSync(f, '{"k": 1}\n{"k": 2,\n{"k": 3}\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`, 'Malformed JSON', 'line 3'] });
  });

  it('refuses an empty file', async () => {
    const f = join(fx, 'empty.csv');
    writeFileSync(f, '');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: ${f} is empty (0 bytes)`] });
  });

  it('refuses a file with bytes that are not the format its name says (parquet)', async () => {
    const f = join(fx, 'fake.parquet');
    writeFileSync(f, 'k,v\n1,a\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: cannot import ${f}`] });
  });

  it('refuses a file with bytes that are not the format its name says (arrow)', async () => {
    const f = join(fx, 'fake.arrow');
    writeFileSync(f, 'k,v\n1,a\n');
    await failsCleanly(['import', f, '--name', 'good'], { code: 1, stderr: [`InputError: ${f}: not a readable Arrow IPC file`] });
  });

  it('fails the whole import when one of several files is bad: no version with only the good ones', async () => {
    const bad = join(fx, 'bad.jsonl');
    writeFileSync(bad, '{"k": 1}\n{"k":\n');
    await failsCleanly(['import', join(fx, 'one.csv'), bad, '--name', 'good'], { code: 1, stderr: [`cannot import ${bad}`] });
  });
});

describe('bad names and paths', () => {
  for (const name of ['../x', '/abs', 'a/b', '.hidden', '']) {
    it(`refuses the dataset name ${JSON.stringify(name)} and writes nothing`, async () => {
      const stderr = await failsCleanly(['import', join(fx, 'one.csv'), '--name', name], { code: 1, stderr: [`InputError: invalid dataset name ${JSON.stringify(name)}`] });
      expect(stderr).toContain("no '/', no '..'");
      expect(readdirSync(dataDirOf(project)).sort()).toEqual(['good']);
    });
  }

  it('refuses to write through a symlink in the data folder that points outside it', async () => {
    const outside = tempDir('sluice-outside-');
    symlinkSync(outside, join(dataDirOf(project), 'evil'));
    await failsCleanly(['import', join(fx, 'one.csv'), '--name', 'evil'], { code: 1, stderr: [/InputError: path "evil\/runs\/[^"]+" goes through symlink .*evil to /, `outside ${dataDirOf(project)}`] });
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses to read a part a manifest places outside the data folder', async () => {
    const text = readFileSync(await partOf(1)).length; // the part is fine; the manifest lies about where it is
    expect(text).toBeGreaterThan(0);
    const cat = await openCatalog({ kind: 'sqlite', path: join(project, '.sluice', 'catalog.db') });
    const m = await cat.manifest('good', 1);
    await cat.db.run('UPDATE versions SET manifest = ? WHERE dataset = ? AND version = 1', [JSON.stringify({ ...m, parts: [{ ...m.parts[0], path: '../../../etc/passwd' }] }), 'good']);
    await cat.close();
    await failsCleanly(['show', 'good@1'], { code: 1, stderr: ['InputError: path "../../../etc/passwd" escapes'] });
  });
});

describe('bad refs and damaged versions', () => {
  it('reports a missing version, dataset and tag as NotFoundError', async () => {
    await failsCleanly(['show', 'good@9'], { code: 1, stderr: ['NotFoundError: version good@9 does not exist (head is 2)'] });
    await failsCleanly(['show', 'nope'], { code: 1, stderr: ['NotFoundError: dataset nope does not exist'] });
    await failsCleanly(['export', 'good@gold', '--format', 'csv', '--out', join(fx, 'x.csv')], { code: 1, stderr: ['NotFoundError: tag good@gold does not exist'] });
    await failsCleanly(['diff', 'good@1', 'nope@1'], { code: 1, stderr: ['NotFoundError: dataset nope does not exist'] });
    await failsCleanly(['tag', 'good@7', 'gold'], { code: 1, stderr: ['NotFoundError: version good@7 does not exist'] });
    expect(existsSync(join(fx, 'x.csv'))).toBe(false);
  });

  it('reports a malformed ref and unknown options as bad usage (exit 2)', async () => {
    await failsCleanly(['show', 'good@'], { code: 2, stderr: [`UsageError: bad ref "good@": nothing after '@'`] });
    await failsCleanly(['show', 'good@0'], { code: 2, stderr: ['UsageError: bad ref "good@0": versions start at 1'] });
    await failsCleanly(['export', 'good', '--format', 'xml', '--out', join(fx, 'x.xml')], { code: 2, stderr: ['UsageError: unknown export format "xml"'] });
    await failsCleanly(['import', join(fx, 'one.csv'), '--name', 'good', '--bogus'], { code: 2, stderr: ["unknown option '--bogus'"] });
    await failsCleanly(['import', join(fx, 'one.csv')], { code: 2, stderr: ["required option '--name <dataset>' not specified"] });
  });

  it('reports a corrupt manifest as IntegrityError naming the version', async () => {
    await corruptManifest(2, '{"format": 1, "dataset": "good", "vers');
    await failsCleanly(['show', 'good'], { code: 1, stderr: ['IntegrityError: corrupt manifest for good@2: not JSON'] });
    await failsCleanly(['export', 'good@2', '--format', 'jsonl', '--out', join(fx, 'x.jsonl')], { code: 1, stderr: ['IntegrityError: corrupt manifest for good@2'] });
    await failsCleanly(['import', join(fx, 'one.csv'), '--name', 'good', '--append'], { code: 1, stderr: ['IntegrityError: corrupt manifest for good@2'] });
    expect((await cli(project, 'show', 'good@1')).code).toBe(0);
  });

  it('reports a part whose bytes changed (same size) as IntegrityError on show and export', async () => {
    const part = await partOf(1);
    const bytes = readFileSync(part);
    const i = Math.floor(bytes.length / 2);
    bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(part, bytes);
    const rel = part.slice(dataDirOf(project).length + 1);
    await failsCleanly(['show', 'good@1'], { code: 1, stderr: [`IntegrityError: good@1: part ${rel} has sha256 `, 'the catalog recorded'] });
    // good@2 shares the part, so it is damaged too
    await failsCleanly(['export', 'good@2', '--format', 'parquet', '--out', join(fx, 'x.parquet')], { code: 1, stderr: [`IntegrityError: good@2: part ${rel} has sha256 `] });
    expect(existsSync(join(fx, 'x.parquet'))).toBe(false);
  });

  it('reports a part that grew as IntegrityError naming both sizes', async () => {
    const part = await partOf(2, 1);
    const size = readFileSync(part).length;
    writeFileSync(part, Buffer.concat([readFileSync(part), Buffer.from('x')]));
    await failsCleanly(['show', 'good@2'], { code: 1, stderr: [`has ${size + 1} bytes, the catalog recorded ${size}`] });
    expect((await cli(project, 'show', 'good@1')).code).toBe(0);
  });

  it('reports a deleted part as IntegrityError naming it', async () => {
    const part = await partOf(2, 1);
    unlinkSync(part);
    const rel = part.slice(dataDirOf(project).length + 1);
    await failsCleanly(['show', 'good@2'], { code: 1, stderr: [`IntegrityError: good@2: part ${rel} is missing (ENOENT)`] });
    await failsCleanly(['export', 'good@2', '--format', 'csv', '--out', join(fx, 'y.csv')], { code: 1, stderr: [`part ${rel} is missing`] });
    await failsCleanly(['diff', 'good@1', 'good@2'], { code: 1, stderr: [`part ${rel} is missing`] });
    expect((await cli(project, 'show', 'good@1')).code).toBe(0);
  });
});
