// Shared test helpers: run the CLI (in this process or as a child), read a project's catalog,
// and check that every committed version is whole (files present, hashes and row counts right).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { verifyManifest } from '../../src/core/dataset.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { DuckSession, lit } from '../../src/engine/duckdb.ts';
import { openCatalog } from '../../src/store/open.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/sluice.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const made: string[] = [];

/** A new temp folder, removed by `removeTempDirs` (each test file calls it in afterAll). */
export function tempDir(prefix = 'sluice-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Runs `sluice --project <project> --json <args…>` in this process, capturing its output. */
export async function cli(project: string, ...args: string[]): Promise<CliResult> {
  return cliRaw('--project', project, '--json', ...args);
}

/** Runs `sluice <args…>` in this process (no implied flags). */
export async function cliRaw(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['node', 'sluice', ...args]);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** The --json output of a successful command; throws with its stderr when it failed. */
export async function cliJson<T = Record<string, unknown>>(project: string, ...args: string[]): Promise<T> {
  const r = await cli(project, ...args);
  if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Starts `node bin/sluice.js --project <project> <args…>` as a child process. */
export function spawnCli(project: string, ...args: string[]) {
  const child = spawn(process.execPath, [BIN, '--project', project, ...args], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((res) =>
    child.on('close', (code, signal) => res({ code: code ?? -1, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Creates a project in a new temp folder and returns its path. */
export async function newProject(): Promise<string> {
  const dir = join(tempDir(), 'proj');
  const r = await cliRaw('init', dir, '--json');
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  return dir;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const dataDirOf = (project: string) => join(project, '.sluice', 'data');

/** What "the catalog is unchanged" compares: every dataset, its head, and its versions. */
export async function catalogState(project: string) {
  const cat = await openCatalog({ kind: 'sqlite', path: join(project, '.sluice', 'catalog.db') });
  try {
    const datasets = await cat.listDatasets();
    const out: { name: string; head: number | null; versions: [number, number][]; tags: [string, number][] }[] = [];
    for (const d of datasets) {
      out.push({
        name: d.name,
        head: d.head,
        versions: (await cat.versions(d.name)).map((v) => [v.version, v.rows]),
        tags: (await cat.tags(d.name)).map((t) => [t.tag, t.version]),
      });
    }
    return out;
  } finally {
    await cat.close();
  }
}

/** Every manifest of every dataset, plus the set of paths the catalog says are referenced. */
export async function allManifests(project: string): Promise<{ manifests: Manifest[]; referenced: Set<string> }> {
  const cat = await openCatalog({ kind: 'sqlite', path: join(project, '.sluice', 'catalog.db') });
  try {
    const manifests: Manifest[] = [];
    for (const d of await cat.listDatasets()) {
      for (const v of await cat.versions(d.name)) manifests.push(await cat.manifest(d.name, v.version));
    }
    return { manifests, referenced: await cat.referencedPaths() };
  } finally {
    await cat.close();
  }
}

/**
 * Checks a version is whole: every part exists with its recorded size and sha256, each part's
 * Parquet row count is what the manifest says, and the version's rows are the sum of its parts.
 */
export async function assertVersionWhole(duck: DuckSession, dataDir: string, m: Manifest): Promise<void> {
  await verifyManifest(dataDir, m);
  let sum = 0;
  for (const p of m.parts) {
    const { n } = await duck.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM read_parquet(${lit(join(dataDir, p.path))})`);
    if (n !== p.rows) throw new Error(`${m.dataset}@${m.version}: part ${p.path} holds ${n} rows, the manifest says ${p.rows}`);
    sum += n - (p.deletes?.rows ?? 0);
  }
  if (sum !== m.rows) throw new Error(`${m.dataset}@${m.version}: parts hold ${sum} rows, the manifest says ${m.rows}`);
}

/** Every file under `dir`, as paths relative to it with `/` separators. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push(relative(dir, abs).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Parses RFC 4180 CSV (or TSV) text exactly, quotes and all: cells come back as written. */
export function parseCsv(text: string, delim = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === delim) row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** The rows of a version as `sluice export --format jsonl` writes them, in record order. */
export async function readRows(project: string, ref: string): Promise<Record<string, unknown>[]> {
  const out = join(tempDir('sluice-rows-'), 'rows.jsonl');
  await cliJson(project, 'export', ref, '--format', 'jsonl', '--out', out);
  const text = readFileSync(out, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}
