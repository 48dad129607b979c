// buildApp(deps): the Koa app for one role. It never reads the environment and never listens, so tests
// drive it in-process and main.ts does the wiring.
import Koa from 'koa';
import Router from '@koa/router';
import { envelopeFor, HttpError } from './http/errors.js';
import { checkHeaderCount } from './http/header-limit.js';
import { discardUnreadBody } from './http/unread-body.js';
import type { MemoryBudget } from './http/memory-budget.js';
import type { RequestContext, RequestMiddleware, RequestObserver, RequestState } from './http/request-state.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { infoLineWriter } from './log-line.js';
import type { RoleInstance, Route } from './roles/role.js';

export interface AppDeps {
  readonly log: Logger;
  readonly lifecycle: Lifecycle;
  readonly role: RoleInstance;
  /** Told of every request's start and end by the outer middleware (metrics). */
  readonly observers?: readonly RequestObserver[];
  /** Extra routes served by every role (e.g. /metrics). */
  readonly extraRoutes?: readonly Route[];
  /** Admission control for request bodies (runtime/http/memory-budget.ts); none in tests that don't need it. */
  readonly memory?: { readonly budget: MemoryBudget; readonly maxBodyBytes: number };
}

/** What an unread body is discarded up to when the app has no memory settings (tests): the default body limit. */
const defaultMaxBodyBytes = 1024 * 1024;

const hasBody = (req: Koa.Request['req']) =>
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
  req.headers['transfer-encoding'] !== undefined;

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
          throw new HttpError(
            503,
            'shutting_down',
            lifecycle.stopping ? 'draining: not taking new requests' : 'starting',
          );
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

/** A route's own middleware, called with the request alone (no route after it: it never calls `next`). */
type RouteMiddleware = (ctx: RequestContext) => Promise<void>;

/** A path template that is a path as it is: no `:param`, `*`, `{…}` or `(…)`. */
const plainPath = /^\/[\w.~/-]*$/;

/** Middleware by method, then by exact path. */
type StaticRoutes = ReadonlyMap<string, ReadonlyMap<string, RouteMiddleware>>;

/**
 * Every route in one @koa/router, compiled once: strict and case-sensitive (`/healthz/` and `/HEALTHZ` are not
 * `/healthz`). app.use(router.routes()) and then router.allowedMethods(): a path served for other methods
 * is answered 405 with `Allow`, OPTIONS 200 with `Allow`. Also the routes a request can be handed to directly
 * (staticRoutes).
 */
function routerFor(
  routes: readonly Route[],
  memory: AppDeps['memory'],
): { router: Router<RequestState>; direct: StaticRoutes } {
  const router = new Router<RequestState>({ strict: true, sensitive: true });
  const direct = new Map<string, Map<string, RouteMiddleware>>();
  const middleware = routes.map((route) => withinBounds(route, memory));
  routes.forEach((route, i) => router.register(route.path, [route.method], middleware[i] as RouteMiddleware));
  routes.forEach((route, i) => {
    // Only a path without parameters or wildcards, and only where the router itself would run this route's
    // middleware and nothing else for it (no other route, a `:param` one registered earlier say, that matches).
    const matched = plainPath.test(route.path) ? router.match(route.path, route.method).pathAndMethod : [];
    if (matched.length === 1 && matched[0]?.stack.includes(middleware[i] as RouteMiddleware)) {
      if (!direct.has(route.method)) direct.set(route.method, new Map());
      direct.get(route.method)?.set(route.path, middleware[i] as RouteMiddleware);
    }
  });
  return { router, direct };
}

/**
 * The request handed to its route's middleware without the router, when its method and path are exactly those
 * of a route without parameters (an event's POST /, the probes): the router would run that same middleware and
 * nothing else, and no part of the runtime reads what it records on the context (ctx.params, ctx.matched…).
 * Its dispatch cost ≈ 10k instructions a request (callgrind: the host getter, a regular expression per route,
 * a koa-compose chain and closures built per request). Anything else goes through the router as before
 * (HEAD, OPTIONS, a trailing slash, another case, a path with parameters). A synchronous throw becomes a
 * rejection, as inside the router's promise chain.
 */
function dispatchDirect(direct: StaticRoutes, ctx: RequestContext, next: () => Promise<unknown>): Promise<unknown> {
  const { request } = ctx; // not Koa's delegating ctx.method/ctx.path (see RequestContext)
  const route = direct.get(request.method)?.get(request.path);
  if (route === undefined) return next();
  try {
    return route(ctx);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** No route took the request (ctx.state.route unset): the router's 405 (it set `Allow`) or a 404, as the envelope. */
function unmatchedRefusal(ctx: RequestContext): HttpError | undefined {
  // Unset (undefined) when no route has the path, whatever the type says; '' for a method the router does not know.
  const allow = ctx.response.get('Allow') as string | undefined;
  if (allow === undefined || allow === '')
    return new HttpError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
  if (ctx.status !== 200)
    return new HttpError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; use ${allow}`);
  return undefined;
}

/** A failure as the answer: the error envelope, and `Retry-After` where a retry can succeed soon. */
function answerFailure(ctx: RequestContext, failure: unknown): void {
  const { status, body } = envelopeFor(failure);
  const { response } = ctx; // not Koa's delegating ctx.status/ctx.body/ctx.set (see RequestContext)
  response.status = status;
  response.body = body;
  if (status === 503 || status === 502 || status === 504) response.set('Retry-After', '1');
}

/** A request's line when it succeeded, serialised by hand (log-line.ts): `line` below less `errorType` (unset then). */
const requestLine = infoLineWriter(
  ['method', 'path', 'status', 'durationMs', 'eventId', 'eventType', 'eventSource'],
  'request',
);

/** The one log line of a request; /healthz and /readyz are logged only when they fail. */
function logRequest(log: Logger, ctx: RequestContext, failed: boolean, failure: unknown, seconds: number): void {
  const { event } = ctx.state;
  // ctx.request and ctx.response, not Koa's delegating ctx.path/ctx.method/ctx.status (see RequestContext)
  const { request, response } = ctx;
  const path = request.path;
  const durationMs = Math.round(seconds * 1e6) / 1000;
  if (!failed) {
    if (path !== '/healthz' && path !== '/readyz')
      requestLine(log, [request.method, path, response.status, durationMs, event?.id, event?.type, event?.source]);
    return;
  }
  const line = {
    method: request.method,
    path,
    status: response.status,
    durationMs,
    eventId: event?.id,
    eventType: event?.type,
    eventSource: event?.source,
    errorType: failure instanceof HttpError ? failure.type : 'internal',
  };
  if (failure instanceof HttpError && failure.type === 'overloaded')
    // Refused for lack of memory: expected under overload, and a stack per refusal would add to the load.
    log.warn({ ...line, error: failure.message }, 'request refused');
  else if (response.status >= 500) log.error({ ...line, err: failure }, 'request failed');
  else {
    const rejected = { ...line, error: failure instanceof HttpError ? failure.message : undefined };
    // A function's PermanentError is an expected outcome (Knative dead-letters the event), not a warning.
    if (failure instanceof HttpError && failure.type === 'permanent_failure') log.info(rejected, 'request rejected');
    else log.warn(rejected, 'request rejected');
  }
}

/**
 * The one outer middleware: in-flight tracking (for draining), the error envelope (a request no route took
 * included), the observers (metrics) and the one log line per request. One layer, and not an async function:
 * every request already pays for Koa's and the router's promises, so this adds one `then` and no frame more.
 */
function outermost(
  log: Logger,
  lifecycle: Lifecycle,
  observers: readonly RequestObserver[],
  maxBodyBytes: number,
  direct: StaticRoutes,
): RequestMiddleware {
  // Made once, not per request: the bundle names every closure it creates, a defineProperty that turns the
  // function into a dictionary-mode object (≈ 4,000 instructions each under callgrind).
  const finish = (ctx: RequestContext, started: number, failed: boolean, failure: unknown) => {
    if (failed) {
      answerFailure(ctx, failure);
      // Refused before or while its body was read: the caller gets the answer, not a reset (unread-body.ts).
      // Not a 413: a body over the limit is not read through.
      if (ctx.response.status !== 413) discardUnreadBody(ctx.req, maxBodyBytes);
    }
    const seconds = (performance.now() - started) / 1000;
    for (const observer of observers) observer.requestEnded(ctx, failed ? failure : undefined, seconds);
    logRequest(log, ctx, failed, failure, seconds);
  };
  return (ctx, next) => {
    const started = performance.now();
    // In flight until the response is written (or the connection dies), not until the middleware returns:
    // Koa writes the body after this function's promise settles, and draining must wait for that too.
    lifecycle.requestStarted();
    ctx.res.once('close', lifecycle.requestFinished);
    // Once draining, tell keep-alive clients to reconnect elsewhere.
    if (lifecycle.stopping) ctx.response.set('Connection', 'close');
    for (const observer of observers) observer.requestStarted();
    return dispatchDirect(direct, ctx, next).then(
      () => {
        const refusal = ctx.state.route === undefined ? unmatchedRefusal(ctx) : undefined;
        finish(ctx, started, refusal !== undefined, refusal);
      },
      (err: unknown) => finish(ctx, started, true, err),
    );
  };
}

/**
 * The matched route: its path template for the metrics label, then the bounds on the request (header count,
 * memory admission), then its handler. A request without a body (/healthz, /readyz, /metrics) reserves
 * nothing and never waits for one that has. The CloudEvent's own header checks are the parse step's.
 */
function withinBounds(route: Route, memory: AppDeps['memory']): RouteMiddleware {
  const { path } = route;
  return (ctx) => {
    // Set before the bounds below, so their refusals are counted by route and reason like any other.
    ctx.state.route = path;
    checkHeaderCount(ctx.req.rawHeaders);
    if (memory && hasBody(ctx.req)) {
      // Refused (503): the body is not read into memory; the outer middleware discards it after the answer.
      const reservation = memory.budget.admit(ctx.req, memory.maxBodyBytes);
      ctx.res.once('close', reservation.release);
    }
    // Set by the router for a path with parameters; unset when the request came straight here (no parameters).
    const { captures } = ctx as { captures?: string[] };
    return route.handle(ctx, captures ?? []);
  };
}

type HeaderSet = (this: Koa.Response, field: unknown, val?: unknown) => void;

/**
 * Koa's `response.set(field, value)` without the arrays and closures it makes on every call (an entries array,
 * a map and a forEach for one header: ≈ 1,500 instructions under callgrind, and a request sets two or three:
 * Content-Type, Content-Length through `ctx.body`). For one header and a value that is not an array it does
 * what Koa's does (nothing once the head is sent, then `res.setHeader`); anything else is Koa's own.
 */
function withQuickHeaderSet(app: Koa<RequestState>): void {
  const response = app.response as unknown as { set: HeaderSet };
  const koaSet = response.set;
  response.set = function set(field, val) {
    if (typeof field !== 'string' || Array.isArray(val)) return koaSet.call(this, field, val);
    if (this.headerSent || !field) return;
    this.res.setHeader(field, val as string);
  };
}

export function buildApp(deps: AppDeps): Koa<RequestState> {
  const app = new Koa<RequestState>();
  withQuickHeaderSet(app);
  const routes = [...healthRoutes(deps.lifecycle, deps.role), ...(deps.extraRoutes ?? []), ...deps.role.routes];
  const { router, direct } = routerFor(routes, deps.memory);
  const maxBodyBytes = deps.memory?.maxBodyBytes ?? defaultMaxBodyBytes;
  app.use(outermost(deps.log, deps.lifecycle, deps.observers ?? [], maxBodyBytes, direct));
  app.use(router.routes());
  app.use(router.allowedMethods());
  // Errors are all answered above; Koa's default handler would print to stderr.
  app.silent = true;
  return app;
}
