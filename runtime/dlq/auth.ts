// The admin API's bearer-token check. Both sides are hashed first so the comparison is constant-time
// whatever the lengths: timingSafeEqual alone throws on unequal lengths, and returning early on a length
// mismatch would tell an attacker the token's length.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../http/errors.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function bearerTokenMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  const same = timingSafeEqual(digest(match?.[1] ?? ''), digest(token));
  return match !== null && same;
}

export function requireBearerToken(authorization: string | undefined, token: string): void {
  if (!bearerTokenMatches(authorization, token)) {
    throw new HttpError(401, 'unauthorized', 'the dead-letter admin API needs "Authorization: Bearer <DLQ_ADMIN_TOKEN>"');
  }
}
