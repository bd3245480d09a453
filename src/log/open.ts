// Opens an event log by spec: local segment files by default, NATS JetStream when sluice.yaml has
// `log: { nats: 'nats://…' }` or SLUICE_NATS is set.
import { join } from 'node:path';
import { assertName } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import type { EventLog, EventLogSpec } from './event-log.ts';
import { FileEventLog } from './file-log.ts';

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
