// GET METRICS_PATH: the registry for Prometheus. It shares the one container port Knative allows, so when
// METRICS_TOKEN is set it answers only to `Authorization: Bearer <token>`.
import type { Registry } from 'prom-client';
import { bearerTokenMatches } from '../http/bearer.js';
import { HttpError } from '../http/errors.js';
import type { Route } from '../roles/role.js';
import { render, wantsOpenMetrics } from './exposition.js';

export interface MetricsRouteOptions {
  readonly path: string;
  readonly token: string | undefined;
  /** Awaited before each scrape renders (metrics/index.ts: the event-loop and GC metrics, started late). */
  readonly beforeScrape?: (() => Promise<void>) | undefined;
}

export function metricsRoute(registry: Registry, options: MetricsRouteOptions): Route {
  const { token, beforeScrape } = options;
  return {
    method: 'GET',
    path: options.path,
    async handle(ctx) {
      if (token !== undefined && !bearerTokenMatches(ctx.get('Authorization') || undefined, token)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new HttpError(401, 'unauthorized', `${options.path} needs "Authorization: Bearer <METRICS_TOKEN>"`);
      }
      await beforeScrape?.();
      const { contentType, body } = await render(registry, wantsOpenMetrics(ctx.get('Accept')));
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Type', contentType);
      ctx.body = body;
    },
  };
}
