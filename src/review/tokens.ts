// Reviewer tokens: 32 random bytes shown once; the store keeps only sha256(pepper ‖ token), where
// the pepper is random per store. The tokens are high-entropy, so a fast hash is enough and lets
// every request be checked with one indexed lookup.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newToken(): string {
  return `slr_${randomBytes(32).toString('base64url')}`;
}

export function newPepper(): string {
  return randomBytes(32).toString('hex');
}

export function hashToken(pepper: string, token: string): string {
  return createHash('sha256').update(pepper).update('\0').update(token).digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
