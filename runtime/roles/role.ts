// What every role provides to the app: its routes and how to close what it opened.
import type { RequestContext } from '../http/request-state.js';
import type { Logger } from '../logger.js';
import type { HttpPoster } from '../events/http-client.js';
import type { RetryClock } from '../events/retry.js';
import type { SendObserver } from '../events/sender.js';
import type { Secrets } from '../function-api.js';
import type { FunctionModule } from '../function-api.js';
import type { Tracing } from '../tracing/index.js';

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /**
   * A @koa/router path template, matched case-sensitively and strictly (no trailing slash): `/`, `/healthz`,
   * `/dead-letters/:id/replay`. A GET route answers HEAD too. The template is the route's metrics label.
   */
  readonly path: string;
  /** `params`: the path's `:name` segments in order, as sent (not percent-decoded: the route decides how). */
  handle(ctx: RequestContext, params: readonly string[]): Promise<void>;
}

export interface RoleInstance {
  readonly routes: readonly Route[];
  /** Why the role cannot take requests right now (its database is down), for /readyz; undefined when it can. */
  notReady?(): string | undefined;
  close?(): Promise<void>;
}

/**
 * Hooks a role calls for what only it knows; the metrics module implements them. All optional, so a role
 * and its tests work without metrics. Counters of received/rejected/failed events are derived by the app's
 * metrics middleware from `ctx.state.event` and the answer; a role sets `ctx.state.outcome` when an event was
 * handled (http/request-state.ts).
 */
export interface RoleObserver {
  functionRan?(functionName: string, seconds: number, outcome: 'ok' | 'error' | 'permanent'): void;
  /** A dead letter was stored: the URL that failed (knativeerrordest) and its status (knativeerrorcode). */
  deadLetterStored?(destination: string, code: string): void;
  /** Size of the dead-letter store after a write, in bytes and in records. */
  storeSize?(bytes: number, records: number): void;
  /** The file store found its file deleted or replaced and now writes to a new one. */
  storeRecreated?(why: 'deleted' | 'replaced'): void;
}

/** Everything a role may touch outside itself; tests pass their own. */
export interface RoleDeps {
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly poster: HttpPoster;
  readonly clock: RetryClock;
  readonly newId: () => string;
  readonly now: () => Date;
  readonly secrets: Secrets;
  readonly loadFunction: (name: string) => Promise<FunctionModule>;
  readonly observer?: SendObserver;
  readonly roleObserver?: RoleObserver;
  /** True once SIGTERM arrived: outbound retries stop early so draining ends in time. */
  readonly stopping: () => boolean;
  /** Spans for each hop (runtime/tracing); unset: tracing off, the caller's trace context still passed on. */
  readonly tracing?: Tracing;
}
