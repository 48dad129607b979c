// Who may call the public handler: a bearer token, or an HMAC-SHA256 signature over "<timestamp>.<body>"
// with a replay window. The valid keys are read from the secret store on every request (a comma-separated
// list, so several are valid during a rotation, and a rotated secret applies without a restart).
// Comparisons are constant-time; a refusal is one 401 that never says which part failed.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { CallerAuthConfig } from '../config.js';
import type { Secrets } from '../function-api.js';
import { bearerTokenMatches, sameSecret } from './bearer.js';
import { HttpError } from './errors.js';

export const signatureHeader = 'x-signature';
export const timestampHeader = 'x-signature-timestamp';

export type CallerCheck = (headers: IncomingHttpHeaders, body: Buffer) => void;

const refused = () => new HttpError(401, 'unauthorized', 'missing or invalid caller credentials');


function keysFrom(secrets: Secrets, name: string): string[] {
  return (secrets.get(name) ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
}

export function sign(key: string, timestamp: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex')}`;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

export function createCallerCheck(config: CallerAuthConfig, secrets: Secrets, now: () => Date): CallerCheck | undefined {
  if (config.mode === 'off') return undefined;
  const { secretName, windowMs } = config;
  if (keysFrom(secrets, secretName).length === 0) {
    throw new Error(`HANDLER_AUTH is ${config.mode} but the secret ${secretName} (HANDLER_AUTH_SECRET) holds no keys`);
  }
  if (config.mode === 'bearer') {
    return (headers) => {
      if (!bearerTokenMatches(single(headers.authorization), ...keysFrom(secrets, secretName))) throw refused();
    };
  }
  return (headers, body) => {
    const timestamp = single(headers[timestampHeader]) ?? '';
    const signature = single(headers[signatureHeader]) ?? '';
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
    const skew = Math.abs(now().getTime() - seconds * 1000);
    let ok = false;
    for (const key of keysFrom(secrets, secretName)) ok = sameSecret(signature, sign(key, timestamp, body)) || ok;
    if (!signature || !(skew <= windowMs) || !ok) throw refused();
  };
}
