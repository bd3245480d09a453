// Named error classes: the class says whose fault it is and whether a retry can help.
//
// Exit codes follow the class: UsageError → 2, every other SluiceError → 1.

/** Base of every error sluice raises on purpose. `hint` says how to fix it. */
export class SluiceError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
  /** True when the same call may succeed later (network, lock, head moved under a rebasing op). */
  get retryable(): boolean {
    return false;
  }
}

/** The command line was used wrongly (unknown flag, missing argument): exit code 2. */
export class UsageError extends SluiceError {}

/** Input data cannot be used: a missing or malformed file, a corrupt part, an unknown format. */
export class InputError extends SluiceError {}

/** A configuration file or option is wrong. Messages name the path, the expected and the received. */
export class ConfigError extends SluiceError {}

/** A named thing (dataset, version, tag, model) does not exist. */
export class NotFoundError extends SluiceError {}

/** Stored bytes do not match what the catalog recorded (sha256, size, row count). */
export class IntegrityError extends SluiceError {}

/** Optimistic concurrency: the dataset's head moved since the commit's parent was read. */
export class HeadMovedError extends SluiceError {
  constructor(
    readonly dataset: string,
    readonly expected: number | null,
    readonly actual: number | null,
  ) {
    super(
      `head moved: ${dataset} is at version ${actual ?? 'none'}, this commit was based on ${expected ?? 'none'}`,
      { hint: 'another process committed first; rerun the command to build on the new head' },
    );
  }
}

/** Code the user supplied (a TypeScript predicate, a task) threw. Carries the user's stack. */
export class UserCodeError extends SluiceError {
  constructor(message: string, readonly userStack: string | undefined, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/** A transient failure (connection reset, lock timeout): retrying may succeed. */
export class RetryableError extends SluiceError {
  override get retryable(): boolean {
    return true;
  }
}

/** A bug in sluice itself: the message asks for a report and the full trace is kept. */
export class InternalError extends SluiceError {}

/** Exit code for an error: 2 for bad usage, 1 for everything else. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof UsageError ? 2 : 1;
}

/** One line for a person: the message, then the hint and the cause if they add anything. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const lines = [`${err.name === 'Error' ? 'error' : err.name}: ${err.message}`];
  if (err instanceof SluiceError && err.hint) lines.push(`  how to fix: ${err.hint}`);
  const cause = err.cause;
  if (cause instanceof Error && !err.message.includes(cause.message.split('\n')[0]!)) lines.push(`  cause: ${cause.message.split('\n')[0]}`);
  if (err instanceof UserCodeError && err.userStack) lines.push(err.userStack);
  if (!(err instanceof SluiceError) || err instanceof InternalError) lines.push(err.stack ?? '');
  return lines.filter(Boolean).join('\n');
}
