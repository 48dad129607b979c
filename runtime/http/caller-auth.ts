// Who may call the public handler: a bearer token, or an HMAC-SHA256 signature over the canonical request
// (hmac-signature.ts) with a replay window, a small allowance for clocks ahead of ours, and each signature
// accepted once. The valid keys are read from the secret store on every request (a comma-separated list, so
// several are valid during a rotation, and a rotated secret applies without a restart). Comparisons are
// constant-time; a bad credential is one 401 that never says which part failed. A replay of a valid signature
// is 409 (it proves nothing the sender did not already have), a full replay memory 503.
import type { IncomingHttpHeaders } from 'node:http';
import type { CallerAuthConfig } from '../config.js';
import type { Secrets } from '../function-api.js';
import { bearerTokenMatches, sameSecret } from './bearer.js';
import { HttpError } from './errors.js';
import { signatureHeader, signRequest, timestampHeader } from './hmac-signature.js';
import { createReplayGuard } from './replay-guard.js';

export { signatureHeader, signRequest, timestampHeader } from './hmac-signature.js';

/** What a check reads from the request; an IncomingMessage fits. */
export interface CallerRequest {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

export type CallerCheck = (req: CallerRequest, body: Buffer) => void;

const refused = () => new HttpError(401, 'unauthorized', 'missing or invalid caller credentials');

function keysFrom(secrets: Secrets, name: string): string[] {
  return (secrets.get(name) ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

export function createCallerCheck(
  config: CallerAuthConfig,
  secrets: Secrets,
  now: () => Date,
): CallerCheck | undefined {
  if (config.mode === 'off') return undefined;
  const { secretName } = config;
  if (keysFrom(secrets, secretName).length === 0) {
    throw new Error(`HANDLER_AUTH is ${config.mode} but the secret ${secretName} (HANDLER_AUTH_SECRET) holds no keys`);
  }
  if (config.mode === 'bearer') {
    return (req) => {
      if (!bearerTokenMatches(single(req.headers.authorization), ...keysFrom(secrets, secretName))) throw refused();
    };
  }
  const { windowMs, futureSkewMs } = config;
  const replays = createReplayGuard(config.replayCapacity);
  return (req, body) => {
    const timestamp = single(req.headers[timestampHeader]) ?? '';
    const signature = single(req.headers[signatureHeader]) ?? '';
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
    const nowMs = now().getTime();
    const ageMs = nowMs - seconds * 1000;
    const parts = { timestamp, method: req.method ?? '', headers: req.headers, body };
    // Every key is tried (no early exit), so the time taken does not say which key, if any, matched.
    let matched: string | undefined;
    for (const key of keysFrom(secrets, secretName)) {
      const expected = signRequest(key, parts);
      if (sameSecret(signature, expected)) matched = expected;
    }
    if (!signature || !(ageMs <= windowMs) || !(-ageMs <= futureSkewMs) || matched === undefined) throw refused();
    const verdict = replays.admit(matched.slice('sha256='.length), seconds * 1000 + windowMs, nowMs);
    if (verdict === 'replayed') {
      throw new HttpError(
        409,
        'replayed',
        'this signed request was already accepted: sign every request, retries included, with a new timestamp',
      );
    }
    if (verdict === 'full') {
      throw new HttpError(
        503,
        'overloaded',
        'too many signed requests within the replay window (HANDLER_AUTH_REPLAY_CAPACITY); try again shortly',
      );
    }
  };
}
