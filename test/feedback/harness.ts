// Test harness for the feedback join: a project and two logs in a temp folder, a generated stream
// appended to them, the oracle's tables built from the same records, and the published examples read back.
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { scanSql } from '../../src/core/dataset.ts';
import { Project } from '../../src/core/project.ts';
import type { DuckSession } from '../../src/engine/duckdb.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { ORD } from '../../src/feedback/join.ts';
import { batchJoin } from '../../src/feedback/oracle.ts';
import { makeScrubber } from '../../src/feedback/scrub.ts';
import type { JoinSpec } from '../../src/feedback/spec.ts';
import { checkEvent } from '../../src/feedback/validate.ts';
import type { EventLog } from '../../src/log/event-log.ts';
import type { SqlDb } from '../../src/store/sql.ts';
import { generate, type GenEntry, type GenOptions } from './gen.ts';

export function tempProject(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-feedback-'));
  Project.init(dir, 'fb');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Appends entries to the logs and writes the oracle's inputs (valid records with their ord) as NDJSON. */
export class OracleFeed {
  readonly preds: string;
  readonly events: string;
  readonly counts = { predictions: 0, events: 0 };
  private readonly ws: Record<'predictions' | 'events', WriteStream>;
  private readonly scrub: ReturnType<typeof makeScrubber>;

  constructor(dir: string, spec: JoinSpec) {
    this.scrub = makeScrubber(spec.scrub);
    this.preds = join(dir, 'oracle-preds.ndjson');
    this.events = join(dir, 'oracle-events.ndjson');
    this.ws = { predictions: createWriteStream(this.preds), events: createWriteStream(this.events) };
  }

  async append(entries: Iterable<GenEntry>, logs: { predictions: EventLog; events: EventLog }): Promise<void> {
    for (const e of entries) {
      const { seq, duplicate } = await logs[e.log].append(e.id, e.records);
      if (!duplicate) await this.note(e.log, seq, e.records);
    }
  }

  /** Records what an entry at `seq` holds (for entries another producer published). */
  async note(log: 'predictions' | 'events', seq: number, records: Record<string, unknown>[]): Promise<void> {
    const lines: string[] = [];
    records.forEach((rec, i) => {
      const ord = seq * ORD + i;
      this.counts[log]++;
      if (log === 'predictions') lines.push(JSON.stringify({ ord, prediction_id: rec.prediction_id, tp: rec.time }));
      else {
        const c = checkEvent(rec);
        if (!c.ok) return;
        const ev = c.event;
        lines.push(JSON.stringify({ ord, event_id: ev.event_id, prediction_id: ev.prediction_id, type: ev.type, te: ev.time, position: ev.position ?? null, text: ev.text === undefined ? null : this.scrub(ev.text).text }));
      }
    });
    if (lines.length && !this.ws[log].write(lines.join('\n') + '\n')) await once(this.ws[log], 'drain');
  }

  async close(): Promise<{ preds: string; events: string }> {
    for (const w of Object.values(this.ws)) {
      w.end();
      await once(w, 'close');
    }
    return { preds: this.preds, events: this.events };
  }
}

/** Appends the whole generated stream at once. */
export async function fillLogs(o: GenOptions, logs: { predictions: EventLog; events: EventLog }, dir: string, spec: JoinSpec): Promise<{ preds: string; events: string }> {
  const feed = new OracleFeed(dir, spec);
  await feed.append(generate(o), logs);
  return feed.close();
}

/** Loads the oracle inputs and runs the batch join. */
export async function runOracle(duck: DuckSession, spec: JoinSpec, files: { preds: string; events: string }): Promise<void> {
  await duck.run(`CREATE OR REPLACE TEMP TABLE preds AS SELECT * FROM read_json(${lit(files.preds)}, format = 'newline_delimited', columns = {ord: 'BIGINT', prediction_id: 'VARCHAR', tp: 'BIGINT'})`);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE events AS SELECT * FROM read_json(${lit(files.events)}, format = 'newline_delimited', columns = {ord: 'BIGINT', event_id: 'VARCHAR', prediction_id: 'VARCHAR', type: 'VARCHAR', te: 'BIGINT', position: 'INTEGER', text: 'VARCHAR'})`,
  );
  await batchJoin(duck, spec);
}

/** The published examples of the head version as table `published` (times back in epoch ms). */
export async function loadPublished(project: Project, duck: DuckSession, dataset = 'feedback'): Promise<number> {
  const head = await project.catalog.head(dataset);
  if (head === null) {
    await duck.run(`CREATE OR REPLACE TEMP TABLE published (prediction_id VARCHAR, label INTEGER, decided_at BIGINT, event_id VARCHAR, event_type VARCHAR, picked_position INTEGER, text VARCHAR)`);
    return 0;
  }
  const m = await project.catalog.manifest(dataset, head);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE published AS SELECT prediction_id, label, epoch_ms(decided_at) AS decided_at, event_id, event_type, picked_position, text FROM (${scanSql(project.dataDir, m)})`,
  );
  return head;
}

const KEY = 'prediction_id, label, decided_at, event_id, event_type, picked_position, text';

/** Rows in one table and not the other, both ways (empty when equal as multisets). */
export async function diffExamples(duck: DuckSession, a = 'published', b = 'oracle_examples'): Promise<{ onlyA: unknown[]; onlyB: unknown[]; a: number; b: number }> {
  const onlyA = await duck.all(`SELECT ${KEY} FROM ${a} EXCEPT ALL SELECT ${KEY} FROM ${b} LIMIT 5`);
  const onlyB = await duck.all(`SELECT ${KEY} FROM ${b} EXCEPT ALL SELECT ${KEY} FROM ${a} LIMIT 5`);
  const [ca] = await duck.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${a}`);
  const [cb] = await duck.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${b}`);
  return { onlyA, onlyB, a: ca!.n, b: cb!.n };
}

const REPO = resolve(import.meta.dirname, '../..');

/** Runs child.ts on the project; SIGKILLs it `killAfterReadyMs` after it is ready (null: let it finish). */
/**
 * Runs test/feedback/child.ts; `kill`: SIGKILL it that many ms after it is ready, or that many ms
 * after it committed its first batch (`{ afterBatchMs }`: lands while it works, however fast it is).
 */
export function runChild(dir: string, kill: number | { afterBatchMs: number } | null, streamPrefix?: string): Promise<{ killed: boolean; out: string; err: string }> {
  return new Promise((res, rej) => {
    const args = [join(REPO, 'bin/run-ts.js'), join(REPO, 'test/feedback/child.ts'), dir, '250', ...(streamPrefix ? [streamPrefix] : [])];
    const c = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const [mark, ms] = kill === null ? [null, 0] : typeof kill === 'number' ? ['ready', kill] : ['batch', kill.afterBatchMs];
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (mark !== null && out.includes(mark) && !armed) {
        armed = true;
        setTimeout(() => c.kill('SIGKILL'), ms);
      }
    });
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', rej);
    c.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') return res({ killed: true, out, err });
      if (code !== 0) return rej(new Error(`child failed (${code}): ${err}`));
      res({ killed: false, out, err });
    });
  });
}

/**
 * How the join's SQL state compares with the oracle: events whose disposition differs (first 5),
 * first-seen events on each side, and the examples the incremental metrics counted.
 */
export async function compareState(duck: DuckSession, db: SqlDb): Promise<{ wrong: unknown[]; events: [number, number]; metricsExamples: number }> {
  const disp = await db.all<{ event_id: string; disposition: string }>('SELECT event_id, disposition FROM fb_events');
  const oracle = await duck.all<{ event_id: string; disposition: string }>('SELECT event_id, disposition FROM oracle_events');
  const mine = new Map(disp.map((r) => [r.event_id, r.disposition]));
  const [m] = await db.all<{ n: number }>(`SELECT SUM(n) AS n FROM metrics_cells WHERE slice_field = '*'`);
  return { wrong: oracle.filter((o) => mine.get(o.event_id) !== o.disposition).slice(0, 5), events: [mine.size, oracle.length], metricsExamples: Number(m?.n ?? 0) };
}

/**
 * Loads the published `feedback` versions and expects them to equal the oracle's examples exactly;
 * with the join's state db, also expects the state to agree (every event disposed once, the metrics
 * counting every example). Returns the head version and the diff's counts.
 */
export async function expectOracleOutput(project: Project, duck: DuckSession, db?: SqlDb): Promise<{ head: number; examples: number }> {
  const head = await loadPublished(project, duck);
  const d = await diffExamples(duck);
  expect({ onlyPublished: d.onlyA, onlyOracle: d.onlyB }).toEqual({ onlyPublished: [], onlyOracle: [] });
  expect(d.a).toBe(d.b);
  if (db) {
    const st = await compareState(duck, db);
    expect(st).toEqual({ wrong: [], events: [st.events[1], st.events[1]], metricsExamples: d.b });
  }
  return { head, examples: d.b };
}
