// Opens an event log by spec: local segment files by default, NATS JetStream when sluice.yaml has
// `log: { nats: 'nats://…' }` or SLUICE_NATS is set.
import { join } from 'node:path';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import type { EventLog, EventLogSpec } from './event-log.ts';
import { FileEventLog } from './file-log.ts';
import { LogWriter } from './writer.ts';

/** The JetStream stream that holds log `name` unless the spec names one: `SLUICE_<NAME>`. */
export function streamName(name: string): string {
  return `SLUICE_${name.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}`;
}

/**
 * Opens log `name` where `spec` says: the folder `<spec.dir>/<name>/`, or a JetStream stream.
 * @example const log = await openEventLog<PredictionRecord>({ kind: 'file', dir: '/p/.sluice/logs' }, 'predictions')
 */
export async function openEventLog<R>(spec: EventLogSpec, name: string): Promise<EventLog<R>> {
  assertName(name, 'event log');
  if (spec.kind === 'file') return FileEventLog.open<R>(join(spec.dir, name), name);
  const { JetStreamEventLog } = await import('./jetstream-log.ts');
  return JetStreamEventLog.open<R>(spec.servers, spec.stream ?? streamName(name), name);
}

/** Where a project's logs live: SLUICE_NATS, else sluice.yaml's `log.nats`, else `<project>/.sluice/logs`. */
export function projectLogSpec(project: Project): EventLogSpec {
  const nats = process.env.SLUICE_NATS ?? project.config.log?.nats;
  return nats ? { kind: 'jetstream', servers: nats } : { kind: 'file', dir: join(project.root, '.sluice', 'logs') };
}

/** Opens a project's log `name` (e.g. 'predictions', 'events'). */
export function projectLog<R>(project: Project, name: string): Promise<EventLog<R>> {
  return openEventLog<R>(projectLogSpec(project), name);
}

/**
 * A project's log `name` with a non-blocking LogWriter in front, spilling to `.sluice/spill/<spill>/`
 * (one folder per writer identity, so a restart replays its own spilled batches).
 * @example const p = await projectWriter<PredictionRecord>(project, 'predictions', { idPrefix: 'serve' }); p.writer.write(r); await p.close();
 */
export async function projectWriter<R>(project: Project, name: string, o: { idPrefix: string; spill?: string }): Promise<{ log: EventLog<R>; writer: LogWriter<R>; close(): Promise<void> }> {
  const log = await projectLog<R>(project, name);
  const writer = await LogWriter.open(log, { spillDir: join(project.root, '.sluice', 'spill', o.spill ?? name), idPrefix: o.idPrefix });
  return {
    log,
    writer,
    async close() {
      await writer.close();
      await log.close();
    },
  };
}
