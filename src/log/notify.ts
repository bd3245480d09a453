// In-process wake-ups for waiting reads: an append wakes every read waiting on the same log at once
// (another process's appends are found by polling instead).
const waiters = new Map<string, Set<() => void>>();

/** Wakes every read waiting on `key` in this process. */
export function notifyAppended(key: string): void {
  const set = waiters.get(key);
  if (!set) return;
  waiters.delete(key);
  for (const wake of set) wake();
}

/** Resolves on the next append to `key` in this process, or after `ms`. */
export function waitForAppend(key: string, ms: number): Promise<void> {
  return new Promise((res) => {
    let set = waiters.get(key);
    if (!set) waiters.set(key, (set = new Set()));
    const wake = (): void => {
      clearTimeout(timer);
      set.delete(wake);
      res();
    };
    const timer = setTimeout(wake, ms);
    set.add(wake);
  });
}
