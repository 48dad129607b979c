// buildApp(deps): the Koa app for one role. It never reads the environment and never listens, so tests
// drive it in-process and main.ts does the wiring.
import Koa from 'koa';
import type { CloudEvent } from 'cloudevents';
import { rejectDuplicateAttributeHeaders } from './events/parse.js';
import { envelopeFor, HttpError } from './http/errors.js';
import { checkHeaderCount } from './http/header-limit.js';
import type { MemoryBudget } from './http/memory-budget.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { RoleInstance, Route } from './roles/role.js';

export interface AppDeps {
  readonly log: Logger;
  readonly lifecycle: Lifecycle;
  readonly role: RoleInstance;
  /** Extra middleware run around every request (metrics); outermost first. */
  readonly middleware?: readonly Koa.Middleware[];
  /** Extra routes served by every role (e.g. /metrics). */
  readonly extraRoutes?: readonly Route[];
  /** Admission control for request bodies (runtime/http/memory-budget.ts); none in tests that don't need it. */
  readonly memory?: { readonly budget: MemoryBudget; readonly maxBodyBytes: number };
}

const hasBody = (req: Koa.Request['req']) => (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;

function healthRoutes(lifecycle: Lifecycle, role: RoleInstance): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      handle(ctx) {
        ctx.body = { status: 'ok' };
        return Promise.resolve();
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      handle(ctx) {
        if (!lifecycle.ready) {
          throw new HttpError(503, 'shutting_down', lifecycle.stopping ? 'draining: not taking new requests' : 'starting');
        }
        // A role that depends on something outside (the dlq's database) says when it cannot work.
        const reason = role.notReady?.();
        if (reason !== undefined) throw new HttpError(503, 'upstream_unavailable', `not ready: ${reason}`);
        ctx.body = { status: 'ready' };
        return Promise.resolve();
      },
    },
  ];
}

/** Exact paths in a map for the hot path; `/prefix/*` routes checked after. */
function routeTable(routes: readonly Route[]) {
  const exact = new Map<string, Map<string, Route>>();
  const prefixes: Route[] = [];
  for (const route of routes) {
    if (route.path.endsWith('/*')) {
      prefixes.push(route);
      continue;
    }
    const byMethod = exact.get(route.path) ?? new Map<string, Route>();
    byMethod.set(route.method, route);
    exact.set(route.path, byMethod);
  }
  return (method: string, path: string): Route => {
    let byMethod = exact.get(path);
    if (!byMethod) {
      const matches = prefixes.filter((route) => path.startsWith(route.path.slice(0, -1)) || path === route.path.slice(0, -2));
      if (matches.length > 0) byMethod = new Map(matches.map((route) => [route.method, route]));
    }
    if (!byMethod) throw new HttpError(404, 'not_found', `no route for ${path}`);
    const route = byMethod.get(method) ?? (method === 'HEAD' ? byMethod.get('GET') : undefined);
    if (!route) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; use ${[...byMethod.keys()].join(', ')}`);
    return route;
  };
}

/** Outermost: in-flight tracking (for draining), the error envelope and the one log line per request. */
function inFlightEnvelopeAndLog(log: Logger, lifecycle: Lifecycle): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    // In flight until the response is written (or the connection dies), not until the middleware returns:
    // Koa writes the body after this function's promise settles, and draining must wait for that too.
    lifecycle.requestStarted();
    ctx.res.once('close', lifecycle.requestFinished);
    // Once draining, tell keep-alive clients to reconnect elsewhere.
    if (lifecycle.stopping) ctx.set('Connection', 'close');
    let failure: unknown;
    try {
      await next();
    } catch (err) {
      failure = err;
      const { status, body } = envelopeFor(err);
      ctx.status = status;
      ctx.body = body;
      if (status === 503 || status === 502 || status === 504) ctx.set('Retry-After', '1');
    }
    const event = ctx.state.event as CloudEvent<unknown> | undefined;
    const line = {
      method: ctx.method,
      path: ctx.path,
      status: ctx.status,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      eventId: event?.id,
      eventType: event?.type,
      eventSource: event?.source,
      errorType: failure instanceof HttpError ? failure.type : failure ? 'internal' : undefined,
    };
    // Refused for lack of memory: expected under overload, and a stack per refusal would add to the load.
    if (failure instanceof HttpError && failure.type === 'overloaded') log.warn({ ...line, error: failure.message }, 'request refused');
    else if (failure && ctx.status >= 500) log.error({ ...line, err: failure }, 'request failed');
    else if (failure) {
      const rejected = { ...line, error: failure instanceof HttpError ? failure.message : undefined };
      // A function's PermanentError is an expected outcome (Knative dead-letters the event), not a warning.
      if (failure instanceof HttpError && failure.type === 'permanent_failure') log.info(rejected, 'request rejected');
      else log.warn(rejected, 'request rejected');
    }
    else if (ctx.path !== '/healthz' && ctx.path !== '/readyz') log.info(line, 'request');
  };
}

/** Innermost: the route, the bounds on the request (header count, memory admission), then the route's handler. */
function routeWithinBounds(findRoute: ReturnType<typeof routeTable>, memory: AppDeps['memory']): Koa.Middleware {
  return async (ctx) => {
    const route = findRoute(ctx.method, ctx.path);
    // The matched pattern, for metrics: a bounded label, unlike the raw path. Set before the bounds below,
    // so their refusals are counted by route and reason like any other.
    ctx.state.route = route.path;
    // Bounds, before any work on the request: the header count, then memory admission. A request without a
    // body (/healthz, /readyz, /metrics) reserves nothing and never waits for one that has.
    checkHeaderCount(ctx.req.rawHeaders);
    if (memory && hasBody(ctx.req)) {
      let reservation;
      try {
        reservation = memory.budget.admit(ctx.req, memory.maxBodyBytes);
      } catch (err) {
        // The body is not read: closing the connection after the answer spares reading it just to discard it.
        ctx.set('Connection', 'close');
        throw err;
      }
      ctx.res.once('close', reservation.release);
    }
    if (ctx.method === 'POST' && route.readsRepeatedAttributeHeaders !== true) rejectDuplicateAttributeHeaders(ctx.req.rawHeaders);
    await route.handle(ctx);
  };
}

export function buildApp(deps: AppDeps): Koa {
  const app = new Koa();
  const findRoute = routeTable([...healthRoutes(deps.lifecycle, deps.role), ...(deps.extraRoutes ?? []), ...deps.role.routes]);
  app.use(inFlightEnvelopeAndLog(deps.log, deps.lifecycle));
  for (const middleware of deps.middleware ?? []) app.use(middleware);
  app.use(routeWithinBounds(findRoute, deps.memory));
  // Errors are all answered above; Koa's default handler would print to stderr.
  app.silent = true;
  return app;
}
