// Errors of the review queue that steer the HTTP status: a decision that lost a race (409), a
// reviewer without the role an action needs (403).
import { SluiceError } from '../core/errors.ts';

/** The item is not in a state that allows this (already final, lease lost, decided twice): HTTP 409. */
export class ReviewConflictError extends SluiceError {}

/** The reviewer's role does not allow this (only adjudicators settle disputes): HTTP 403. */
export class ReviewForbiddenError extends SluiceError {}
