// Choosing a project's event log: segment files by default, JetStream from sluice.yaml or SLUICE_NATS.
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/core/project.ts';
import { openEventLog, projectLog, projectLogSpec, streamName } from '../../src/log/open.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-logopen-'));
  dirs.push(dir);
  Project.init(dir, 'logs');
  if (extra) appendFileSync(join(dir, 'sluice.yaml'), extra);
  return dir;
}

describe('a project event log', () => {
  it('is a folder of segment files under .sluice/logs/<name> by default', async () => {
    const p = await Project.open(project());
    const log = await projectLog<{ a: number }>(p, 'predictions');
    expect(log.kind).toBe('file');
    expect(await log.append('one', [{ a: 1 }])).toEqual({ seq: 1, duplicate: false });
    expect(existsSync(join(p.root, '.sluice', 'logs', 'predictions', '00000000000000000001.seg'))).toBe(true);
    await log.close();
    await p.close();
  });

  it('is the JetStream stream SLUICE_<NAME> when sluice.yaml sets log.nats, and SLUICE_NATS overrides it', async () => {
    const p = await Project.open(project('log:\n  nats: nats://127.0.0.1:4222\n'));
    expect(projectLogSpec(p)).toEqual({ kind: 'jetstream', servers: 'nats://127.0.0.1:4222' });
    expect(streamName('predictions')).toBe('SLUICE_PREDICTIONS');
    expect(streamName('ads.events-2')).toBe('SLUICE_ADS_EVENTS-2');
    process.env.SLUICE_NATS = 'nats://10.0.0.9:4222';
    try {
      expect(projectLogSpec(p)).toEqual({ kind: 'jetstream', servers: 'nats://10.0.0.9:4222' });
    } finally {
      delete process.env.SLUICE_NATS;
    }
    await p.close();
  });

  it('opens a JetStream log by spec with the stream it names', async () => {
    const stream = `SLUICE_TEST_OPEN_${process.pid}`;
    const log = await openEventLog<{ a: number }>({ kind: 'jetstream', servers: 'nats://127.0.0.1:4222', stream }, 'events');
    expect(log.kind).toBe('jetstream');
    const r = await log.append('e1', [{ a: 1 }]);
    expect(r.duplicate).toBe(false);
    expect(await log.read(0)).toEqual([{ seq: r.seq, id: 'e1', records: [{ a: 1 }] }]);
    await (log as unknown as { destroy(): Promise<void> }).destroy();
    await log.close();
  });

  it('rejects a log.nats that is not a NATS URL, naming the field', async () => {
    const dir = project('log:\n  nats: 127.0.0.1:4222\n');
    await expect(Project.open(dir)).rejects.toThrow(/sluice\.yaml: log\.nats: expected a NATS URL like nats:\/\/127\.0\.0\.1:4222/);
  });

  it('rejects a log name that could leave its folder', async () => {
    await expect(openEventLog({ kind: 'file', dir: tmpdir() }, '../x')).rejects.toThrow(/invalid event log name "\.\.\/x"/);
  });
});
