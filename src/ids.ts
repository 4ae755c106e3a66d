// Identifiers and secrets: random, prefixed by kind so a stray id says what it is.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(10).toString('base64url').replace(/[-_]/g, '').slice(0, 12).toLowerCase()}${randomBytes(3).toString('hex')}`;
}

/** The same id for the same key, in the shape of newId: a retried request maps to one run (and one workflow id). */
export function idFor(prefix: string, key: string): string {
  return `${prefix}_${createHash('sha256').update(key).digest('hex').slice(0, 18)}`;
}

export function newSecretToken(): string {
  return `arc_${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two strings of possibly different length. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
