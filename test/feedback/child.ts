// A `feedback run --once` as a child process the crash test can SIGKILL: the project and the test
// logs in `argv[2]`, small batches and a publish after every batch so kills land everywhere.
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { openJoin } from '../../src/feedback/open.ts';
import { runFeedback } from '../../src/feedback/run.ts';
import { parseJoinSpec } from '../../src/feedback/spec.ts';
import { JetStreamEventLog } from '../../src/log/jetstream-log.ts';
import { SqliteTestLog } from './sqlite-log.ts';
import { TEST_SPEC } from './gen.ts';

const dir = process.argv[2]!;
const project = await Project.open(dir);
const spec = parseJoinSpec({ ...TEST_SPEC, publish: { dataset: 'feedback', every: 0 } });
const { join: fj, db } = await openJoin(project, spec);
// argv[4]: a JetStream stream prefix to read both logs from NATS (else the SQLite test logs)
const prefix = process.argv[4];
const logs = prefix
  ? { predictions: await JetStreamEventLog.open<unknown>('nats://127.0.0.1:4222', `${prefix}_PREDICTIONS`, 'predictions'), events: await JetStreamEventLog.open<unknown>('nats://127.0.0.1:4222', `${prefix}_EVENTS`, 'events') }
  : { predictions: new SqliteTestLog(join(dir, 'logs.db'), 'predictions'), events: new SqliteTestLog(join(dir, 'logs.db'), 'events') };
process.stdout.write('ready\n');
// 'batch' after each commit: the harness can kill it while it works (runChild's afterBatchMs)
const s = await runFeedback(project, fj, logs, { once: true, batchRecords: Number(process.argv[3] ?? 400), onBatch: () => process.stdout.write('batch\n') });
process.stdout.write(JSON.stringify({ done: true, batches: s.batches }) + '\n');
await logs.predictions.close();
await logs.events.close();
await db.close();
await project.close();
