// What every role provides to the app: its routes and how to close what it opened.
import type Koa from 'koa';
import type { Logger } from '../logger.js';
import type { HttpPoster } from '../events/http-client.js';
import type { RetryClock } from '../events/retry.js';
import type { SendObserver } from '../events/sender.js';
import type { Secrets } from '../function-api.js';
import type { FunctionModule } from '../function-api.js';
import type { Tracing } from '../tracing/index.js';

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** An exact path, or a prefix ending in `/*` handled by the role itself. */
  readonly path: string;
  /**
   * The route reads a CloudEvent attribute sent in more than one header itself (the dlq keeps it raw), so
   * the app does not refuse it with 400 first, as it does for every other POST.
   */
  readonly readsRepeatedAttributeHeaders?: boolean;
  handle(ctx: Koa.Context): Promise<void>;
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
 * metrics middleware from `ctx.state.event` and the answer; a role sets `ctx.state.outcome`
 * ('forwarded' | 'replied' | 'processed' | 'stored') when an event was handled.
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
