// A lock file on a folder: one writer at a time, so two processes never interleave bytes in one
// file. A lock left by a killed process (its pid is gone) is taken over.
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { SluiceError } from '../core/errors.ts';

/** Another live process (or another object in this one) holds the lock. */
export class LockedError extends SluiceError {}

/** Locks held by this process, so a second object in the same process waits or is refused too. */
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

/** Takes the lock file `path` now, or answers who holds it. */
export function tryLock(path: string): { release: () => void } | { holder: string } {
  if (heldHere.has(path)) return { holder: `this process (${process.pid})` };
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
      if (!holder) continue; // released between our two calls: try again
      const sameHost = holder.host === hostname();
      if (alive(holder.pid) || !sameHost || attempt > 2) return { holder: `process ${holder.pid}${sameHost ? '' : ` on ${holder.host}`}` };
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
  return {
    release: () => {
      heldHere.delete(path);
      if (readFileSafe(path) === me) unlinkSync(path);
    },
  };
}

/**
 * Takes the lock file `path`, waiting up to `waitMs` for its holder; else throws LockedError naming
 * the holder. `what` names the locked thing. Returns the function that releases it.
 * @example const release = await acquireLock('/p/.sluice/spill/predictions/writer.lock', 'spill folder /p/.sluice/spill/predictions')
 */
export async function acquireLock(path: string, what: string, waitMs = 0): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    const r = tryLock(path);
    if ('release' in r) return r.release;
    if (Date.now() >= deadline) {
      throw new LockedError(`${what} is locked by ${r.holder}${waitMs ? ` for over ${waitMs} ms` : ''} (lock ${path})`, {
        hint: waitMs ? 'another writer is stuck holding the lock: stop it, or delete the lock file if that process is gone' : 'stop the other writer, or give this one a folder of its own',
      });
    }
    await new Promise((res) => setTimeout(res, pause));
  }
}

function readFileSafe(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
