// The serving errors and their HTTP status: every error answer is `{"error": "<message>"}`, the
// shape both the v2 protocol and TensorFlow Serving use. Input errors name the field path and what
// was expected there.
import { InputError, NotFoundError, SluiceError } from '../core/errors.ts';

/** An error with the HTTP status it answers with. */
export class HttpError extends SluiceError {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** The bounded queue is full: 503 with Retry-After. */
export class OverloadedError extends HttpError {
  constructor(message: string, retryAfterSeconds: number) {
    super(503, `overloaded: ${message}; retry after ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
  }
}

/** The request's deadline passed before its batch started: 504. */
export class DeadlineError extends HttpError {
  constructor(message: string) {
    super(504, message);
  }
}

/** A request field is not what the protocol or the model expects: 400 naming `path`. */
export class FieldError extends HttpError {
  /** `got` (when passed, even as undefined) is described after the expectation */
  constructor(readonly path: string, expected: string, ...got: unknown[]) {
    super(400, `${path}: expected ${expected}${got.length ? `, got ${describe(got[0])}` : ''}`);
  }
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return v.length <= 8 && v.every((x) => typeof x === 'number') ? `[${v.join(', ')}]` : `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof NotFoundError) return 404;
  if (e instanceof InputError) return 400;
  const code = (e as { statusCode?: number }).statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}
