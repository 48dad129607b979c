// What every role provides to the app: its routes and how to close what it opened.
import type Koa from 'koa';
import type { Logger } from '../logger.js';
import type { HttpPoster } from '../events/http-client.js';
import type { RetryClock } from '../events/retry.js';
import type { SendObserver } from '../events/sender.js';
import type { Secrets } from '../function-api.js';
import type { FunctionModule } from '../function-api.js';

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** An exact path, or a prefix ending in `/*` handled by the role itself. */
  readonly path: string;
  handle(ctx: Koa.Context): Promise<void>;
}

export interface RoleInstance {
  readonly routes: readonly Route[];
  close?(): Promise<void>;
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
  /** True once SIGTERM arrived: outbound retries stop early so draining ends in time. */
  readonly stopping: () => boolean;
}
