// GET METRICS_PATH: the registry for Prometheus. It shares the one container port Knative allows, so when
// METRICS_TOKEN is set it answers only to `Authorization: Bearer <token>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { HttpError } from '../http/errors.js';
import type { Route } from '../roles/role.js';
import { render, wantsOpenMetrics } from './exposition.js';

/** Hashing first makes the comparison constant-time in the length too. */
const digest = (value: string) => createHash('sha256').update(value).digest();

export function bearerChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    return match !== null && timingSafeEqual(digest(match[1] as string), expected);
  };
}

export function metricsRoute(registry: Registry, options: { path: string; token: string | undefined }): Route {
  const authorised = options.token === undefined ? undefined : bearerChecker(options.token);
  return {
    method: 'GET',
    path: options.path,
    async handle(ctx) {
      if (authorised && !authorised(ctx.get('Authorization') || undefined)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new HttpError(401, 'unauthorized', `${options.path} needs "Authorization: Bearer <METRICS_TOKEN>"`);
      }
      const { contentType, body } = await render(registry, wantsOpenMetrics(ctx.get('Accept')));
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Type', contentType);
      ctx.body = body;
    },
  };
}
