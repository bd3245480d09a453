// A process lock on a folder: one writer per log folder or spill folder, so two processes never
// interleave bytes in one file. A lock left by a killed process (its pid is gone) is taken over.
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { SluiceError } from '../core/errors.ts';

/** Another live process (or another object in this one) holds the lock. */
export class LockedError extends SluiceError {}

/** Locks held by this process, so a second object in the same process is refused too. */
const heldHere = new Set<string>();

function holderOf(path: string): { pid: number; host: string } | null {
  try {
    const [pid, host] = readFileSync(path, 'utf8').split('\n');
    return { pid: Number(pid), host: host ?? '' };
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock file `path` for this process, or throws LockedError naming the holder. `what`
 * names the locked thing in the message. Returns the function that releases it.
 * @example const release = acquireLock('/p/.sluice/logs/predictions/writer.lock', 'event log predictions')
 */
export function acquireLock(path: string, what: string): () => void {
  if (heldHere.has(path)) {
    throw new LockedError(`${what} is already open for writing in this process (lock ${path})`, {
      hint: 'use one writer object per log, or close the first one before opening another',
    });
  }
  const me = `${process.pid}\n${hostname()}\n${new Date().toISOString()}\n`;
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, me);
  try {
    // link() is atomic and fails when the lock exists: exactly one process wins.
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = holderOf(path);
      const sameHost = !holder || holder.host === hostname();
      if (holder && (alive(holder.pid) || !sameHost) && holder.pid !== process.pid || attempt > 2) {
        throw new LockedError(`${what} is being written by process ${holder?.pid ?? '?'}${sameHost ? '' : ` on ${holder?.host}`} (lock ${path}); one writer per folder`, {
          hint: 'stop the other writer, or give this process a log or spill folder of its own',
        });
      }
      // The holder is gone (killed): take its stale lock over.
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  } finally {
    unlinkSync(tmp);
  }
  heldHere.add(path);
  return () => {
    heldHere.delete(path);
    if (readFileSafe(path) === me) unlinkSync(path);
  };
}

function readFileSafe(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
