// Crash safety: an import killed with SIGKILL at any moment (startup, COPY, hashing, commit) never
// leaves a partial version, and gc afterwards leaves only referenced files.
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DuckSession, lit } from '../../src/engine/duckdb.ts';
import { allManifests, assertVersionWhole, cliJson, dataDirOf, newProject, spawnCli, tempDir, walkFiles, removeTempDirs } from './helpers.ts';

const ROWS = 1_000_000;
const KILLS = 20;

let duck: DuckSession;
let project: string;
let csv: string;

beforeAll(async () => {
  duck = await DuckSession.open({ threads: 1 });
  project = await newProject();
  csv = join(tempDir('sluice-crash-'), 'big.csv');
  await duck.run(
    `COPY (SELECT i AS id, 'name_' || i AS name, (i * 7919 % 100003) / 100.0 AS score, i % 7 AS cat FROM range(${ROWS}) t(i))
     TO ${lit(csv)} (HEADER)`,
  );
});
afterAll(() => {
  duck.close();
  removeTempDirs();
});

/** Attempt folders of the import runs (one per map-task attempt), as paths under the data folder. */
function attemptDirs(): Set<string> {
  const runs = join(dataDirOf(project), 'big', 'runs');
  const out = new Set<string>();
  if (!existsSync(runs)) return out;
  for (const run of readdirSync(runs)) for (const task of readdirSync(join(runs, run))) for (const a of readdirSync(join(runs, run, task))) out.add(`${run}/${task}/${a}`);
  return out;
}

/** Every version of every dataset is whole and holds exactly the CSV's rows; the catalog file is sound. */
async function assertCatalogWhole(): Promise<number> {
  const db = new Database(join(project, '.sluice', 'catalog.db'), { readonly: true });
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();
  const { manifests } = await allManifests(project);
  for (const m of manifests) {
    await assertVersionWhole(duck, dataDirOf(project), m);
    expect(m.rows).toBe(ROWS);
  }
  return manifests.length;
}

/** True once process `pid` holds the project's catalog open: its startup (module loading) is over. */
function catalogOpenBy(pid: number): boolean {
  const fds = `/proc/${pid}/fd`;
  try {
    return readdirSync(fds).some((fd) => {
      try {
        return readlinkSync(join(fds, fd)).endsWith('catalog.db');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Starts `sluice import … --name big` as a child process. */
function startImport() {
  return spawnCli(project, '--json', 'import', csv, '--name', 'big');
}

/**
 * Waits for an import child; if `killAfter` is given, SIGKILLs it that many ms after it opened the
 * catalog. Times count from that moment, so the slow, load-dependent module loading before it
 * does not blur where the kills land.
 */
async function driveImport(run: ReturnType<typeof startImport>, killAfter?: number) {
  const dirsBefore = attemptDirs().size;
  let opened = 0;
  let taskStart = 0;
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    const now = performance.now();
    if (!opened && catalogOpenBy(run.child.pid!)) {
      opened = now;
      if (killAfter !== undefined) timer = setTimeout(() => run.child.kill('SIGKILL'), killAfter);
    }
    if (opened && !taskStart && attemptDirs().size > dirsBefore) taskStart = now - opened;
  }, 5);
  const r = await run.done;
  const work = performance.now() - opened;
  clearInterval(poll);
  clearTimeout(timer);
  return { ...r, taskStart, work };
}

/** What a kill is judged by: attempt folders, recorded tasks (all, and of uncommitted runs), versions. */
async function snapshot() {
  const db = new Database(join(project, '.sluice', 'catalog.db'), { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      dirs: attemptDirs().size,
      tasks: n('SELECT count(*) AS n FROM task_results'),
      pending: n(`SELECT count(*) AS n FROM task_results t JOIN runs r ON r.run_id = t.run_id WHERE r.status <> 'committed'`),
      versions: n('SELECT count(*) AS n FROM versions'),
    };
  } finally {
    db.close();
  }
}

it(`survives ${KILLS} SIGKILLs of an import at spread-out moments: only whole versions, and gc leaves only referenced files`, async () => {
  // Calibrate: how long does the work take once the catalog is open, and when does the task start?
  const cal = await driveImport(startImport());
  expect(cal.code, cal.stderr).toBe(0);
  expect(cal.taskStart).toBeGreaterThan(0);
  expect(await assertCatalogWhole()).toBe(1);

  // Spread the kills over the calibrated work, in shuffled order. A run resuming a recorded task
  // only commits, so its kill comes within the first fifth of the window, where its commit is.
  const slots = Array.from({ length: KILLS }, (_, i) => (i + Math.random()) / KILLS).sort(() => Math.random() - 0.5);
  const landed = { 'before the task': 0, 'in the task (COPY, hashing)': 0, 'between task and commit': 0, 'after commit': 0, 'exited first': 0 };
  let before = await snapshot();
  let next: ReturnType<typeof startImport> | undefined = startImport();
  for (let i = 0; i < KILLS; i++) {
    const r = await driveImport(next!, slots[i]! * cal.work * (before.pending > 0 ? 0.2 : 1));
    const after = await snapshot();
    // The next child loads its modules (a second or more) while this kill is checked; it opens the
    // catalog only after that, and its kill is timed from then.
    next = i + 1 < KILLS ? startImport() : undefined;
    if (r.signal !== 'SIGKILL') {
      expect(r.code, r.stderr).toBe(0);
      landed['exited first']++;
    } else if (after.versions > before.versions) landed['after commit']++;
    else if (after.tasks > before.tasks) landed['between task and commit']++;
    else if (after.dirs > before.dirs) landed['in the task (COPY, hashing)']++;
    else landed['before the task']++;
    expect(await assertCatalogWhole()).toBe(after.versions);
    before = after;
  }
  console.log(
    `crash-safety: calibrated work ${(cal.work / 1000).toFixed(2)} s after the catalog opened (task from ${(cal.taskStart / 1000).toFixed(2)} s); kills landed:`,
    landed,
  );
  // The kills that matter most did happen: in the middle of a task's COPY and hashing.
  expect(landed['in the task (COPY, hashing)']).toBeGreaterThan(0);

  const final = await cliJson<{ rows: number }>(project, 'import', csv, '--name', 'big');
  expect(final.rows).toBe(ROWS);
  await cliJson(project, 'gc', '--min-age', '0');
  await assertCatalogWhole();
  const { referenced } = await allManifests(project);
  expect(walkFiles(dataDirOf(project))).toEqual([...referenced].sort());
}, 480_000); // ~75 s of CPU (mostly 21 CLI startups); minutes when the shared machine is saturated
