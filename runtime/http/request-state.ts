// What one request carries from its route back out to the log line and the metrics, on ctx.state. Typed once
// here, so the app and the metrics middleware read it without casts and a role can set only these fields.
import type Koa from 'koa';
import type { CloudEvent } from 'cloudevents';

/** How an event was handled, set by the role that handled it (counted by knative_events_events_handled_total). */
export type Outcome = 'forwarded' | 'replied' | 'processed' | 'stored';

export interface RequestState {
  /** The matched route's path template (`/dead-letters/:id`), a bounded metrics label; unset when none matched. */
  route?: string;
  /** The event the request carried, once read (a dlq raw capture's attributes may be missing). */
  event?: {
    readonly id?: string | undefined;
    readonly type?: string | undefined;
    readonly source?: string | undefined;
  };
  /** Set by the role when the event was handled. */
  outcome?: Outcome;
  /** The reply event a subscriber answered with (Knative publishes it into the broker). */
  reply?: CloudEvent<unknown>;
}

/**
 * Koa's context. On the request path, code reads and writes `ctx.request` and `ctx.response` (`ctx.response.status
 * = 202`, `ctx.request.method`) rather than the context's shorthands (`ctx.status`, `ctx.method`): those are made
 * by Koa's `delegates`, whose accessors forward with a computed name (`this.response[name] = value`), and a store
 * or load by a computed name that lands on a setter or getter is one V8 runs through its runtime: ≈3,000
 * instructions for each `ctx.body =` (callgrind, 2 a subscriber request), against an inline call to the accessor.
 */
export type RequestContext = Koa.ParameterizedContext<RequestState>;
export type RequestMiddleware = Koa.Middleware<RequestState>;

/**
 * What watches every request from the app's one outer middleware (the metrics): told when a request starts and
 * when its answer is decided, with the failure it ended in (undefined when none) already mapped to ctx.status.
 * A plain callback, not a Koa middleware: no promise and no compose layer of its own on each request.
 */
export interface RequestObserver {
  requestStarted(): void;
  requestEnded(ctx: RequestContext, failure: unknown, seconds: number): void;
}
