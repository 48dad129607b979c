// Constant-time secret comparison and bearer-token checks, shared by every endpoint that takes a token
// (handler callers, dlq admin, /metrics). Both sides are hashed first so the comparison takes the same
// time whatever the lengths: timingSafeEqual alone throws on unequal lengths, and returning early on a
// length mismatch would tell an attacker the token's length.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')?.[1];
}

/** True when the header carries one of the tokens. Every token is compared (no early exit). */
export function bearerTokenMatches(authorization: string | undefined, ...tokens: readonly string[]): boolean {
  const given = bearerToken(authorization);
  let ok = false;
  for (const token of tokens) ok = sameSecret(given ?? '', token) || ok;
  return given !== undefined && ok;
}
