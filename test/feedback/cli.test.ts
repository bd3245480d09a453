// The commands end to end on a project's own logs: events imported from JSONL (with a bad line),
// CSV and Parquet, predictions in the `predictions` log, `feedback run --once --json` → feedback@1
// with scrubbed text and its rule names; a second import of the same file appends nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { openEventLog } from '../../src/log/open.ts';
import { cliJson, cli, spawnCli } from '../foundation/helpers.ts';
import { tempProject } from './harness.ts';

const t = tempProject();
afterAll(() => t.cleanup());
const T0 = Date.UTC(2026, 10, 1);

describe('sluice feedback import and run', () => {
  beforeAll(async () => {
    writeFileSync(join(t.dir, 'feedback.yaml'), 'window: 30m\nrules:\n  - { type: click, label: 1 }\n  - { type: accept, label: 1, position: true }\n  - { type: typed_own, label: 0 }\n');
    const preds = await openEventLog<unknown>({ kind: 'file', dir: join(t.dir, '.sluice', 'logs') }, 'predictions');
    await preds.append('serve-1', [
      { prediction_id: 'p1', time: T0, model: 'ctr', version: 1, arm: 'main', fields: { ad: 'a1', country: 'de' }, outputs: { score: 0.2 } },
      { prediction_id: 'p2', time: T0 + 1000, model: 'ctr', version: 1, arm: 'main', fields: { ad: 'a2', country: 'fr' }, outputs: { score: 0.7 } },
      { prediction_id: 'p3', time: T0 + 2000, model: 'reply', version: 3, arm: 'b', fields: { thread: 't9' }, outputs: {}, shown: [{ candidate_id: 'x', position: 0, score: 0.9 }, { candidate_id: 'y', position: 1, score: 0.4 }] },
      { prediction_id: 'p4', time: T0 + 3000, model: 'reply', version: 3, arm: 'main', fields: { thread: 't10' }, outputs: {}, shown: [{ candidate_id: 'x', position: 0, score: 0.8 }] },
    ]);
    await preds.close();
    writeFileSync(
      join(t.dir, 'a.jsonl'),
      [
        JSON.stringify({ event_id: 'e1', prediction_id: 'p1', type: 'click', time: new Date(T0 + 60_000).toISOString() }),
        '{"event_id": "broken',
        JSON.stringify({ event_id: 'e1', prediction_id: 'p1', type: 'click', time: T0 + 60_000 }),
      ].join('\n') + '\n',
    );
    writeFileSync(join(t.dir, 'b.csv'), `event_id,prediction_id,type,time,position,text\ne2,p3,accept,${T0 + 5000},1,\ne3,p4,typed_own,${T0 + 9000},,"write to me: bob@example.org or +49 30 1234 5678"\n`);
    const project = await Project.open(t.dir);
    const duck = await project.duck();
    await duck.run(`COPY (SELECT 'e4' AS event_id, 'p9' AS prediction_id, 'click' AS type, TIMESTAMP '2026-11-01 03:00:00' AS time) TO '${join(t.dir, 'c.parquet')}' (FORMAT parquet)`);
    await project.close();
  });

  it('imports JSONL, CSV and Parquet and counts the invalid line', async () => {
    const a = await cliJson<{ records: number; invalid: number }>(t.dir, 'feedback', 'import', join(t.dir, 'a.jsonl'));
    expect(a).toMatchObject({ records: 3, valid: 2, invalid: 1, entries: 1, duplicates: 0 });
    expect(await cliJson(t.dir, 'feedback', 'import', join(t.dir, 'b.csv'))).toMatchObject({ records: 2, valid: 2, invalid: 0 });
    expect(await cliJson(t.dir, 'feedback', 'import', join(t.dir, 'c.parquet'))).toMatchObject({ records: 1, valid: 1 });
    expect(await cliJson(t.dir, 'feedback', 'import', join(t.dir, 'a.jsonl'))).toMatchObject({ entries: 1, duplicates: 1 });
  });

  it('joins, quarantines and publishes feedback@1 with scrubbed text', async () => {
    const s = await cliJson<{ counts: Record<string, number>; versions: number[]; lag: unknown }>(t.dir, 'feedback', 'run', '--once');
    expect(s.counts).toMatchObject({ predictions: 4, events: 4, duplicates: 1, events_invalid: 1, positives: 2, negatives: 2, pending: 1, quarantined: 1 });
    expect(s.versions).toEqual([1]);
    expect(s.lag).toEqual({ predictions: 0, events: 0 });
    const project = await Project.open(t.dir);
    try {
      const duck = await project.duck();
      const { scanSql } = await import('../../src/core/dataset.ts');
      const m = await project.catalog.manifest('feedback', 1);
      const rows = await duck.all(`SELECT prediction_id, label, score, event_type, picked_position, shown_count, text, scrub_rules, ad, thread, model_version, arm FROM (${scanSql(project.dataDir, m)}) ORDER BY prediction_id`);
      expect(rows).toEqual([
        { prediction_id: 'p1', label: 1, score: 0.2, event_type: 'click', picked_position: null, shown_count: null, text: null, scrub_rules: null, ad: 'a1', thread: null, model_version: 1, arm: 'main' },
        { prediction_id: 'p2', label: 0, score: 0.7, event_type: null, picked_position: null, shown_count: null, text: null, scrub_rules: null, ad: 'a2', thread: null, model_version: 1, arm: 'main' },
        { prediction_id: 'p3', label: 1, score: 0.4, event_type: 'accept', picked_position: 1, shown_count: 2, text: null, scrub_rules: null, ad: null, thread: 't9', model_version: 3, arm: 'b' },
        { prediction_id: 'p4', label: 0, score: 0.8, event_type: 'typed_own', picked_position: null, shown_count: 1, text: 'write to me: [email] or [phone]', scrub_rules: 'email,phone', ad: null, thread: 't10', model_version: 3, arm: 'main' },
      ]);
    } finally {
      await project.close();
    }
  });

  it('hosts POST /v1/events with --listen, needs the token, and stops with a summary on SIGTERM', async () => {
    process.env.SLUICE_EVENTS_TOKEN = 'tok-123';
    const run = spawnCli(t.dir, '--json', 'feedback', 'run', '--listen', '0');
    let stderr = '';
    const url = await new Promise<string>((res, rej) => {
      run.child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /events intake on (\S+)/.exec(stderr);
        if (m) res(m[1]!);
      });
      run.child.on('exit', () => rej(new Error(`exited early: ${stderr}`)));
    });
    delete process.env.SLUICE_EVENTS_TOKEN;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/events$/);
    const body = JSON.stringify({ event_id: 'e10', prediction_id: 'p3', type: 'click', time: T0 + 7000 }) + '\n';
    expect((await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } })).status).toBe(401);
    const ok = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', authorization: 'Bearer tok-123' } });
    expect(ok.status).toBe(202);
    // the running join folds it: late, since e4 (03:00) moved the events' watermark past p3's window
    const project = await Project.open(t.dir);
    const { openFeedbackDb } = await import('../../src/feedback/state.ts');
    const db = openFeedbackDb(project);
    try {
      for (let i = 0; i < 200; i++) {
        const r = await db.get<{ disposition: string }>(`SELECT disposition FROM fb_events WHERE event_id = 'e10'`);
        if (r) {
          expect(r.disposition).toBe('late');
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await db.close();
      await project.close();
    }
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).counts).toMatchObject({ late: 1, events: 5 });
  });

  it('says what is wrong with a bad join spec, naming the field', async () => {
    writeFileSync(join(t.dir, 'bad.yaml'), 'window: 30 minutes\nrules:\n  - { type: click, label: 2 }\n');
    const r = await cli(t.dir, 'feedback', 'run', '--once', '--spec', join(t.dir, 'bad.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('window: expected a duration like 30m');
    expect(r.stderr).toContain('rules.0.label: expected 0 (negative) or 1 (positive)');
  });
});
