// What every admin resource (admin-letters.ts, admin-jobs.ts, admin-audit.ts) needs from the dlq: the store's
// queries, the replayer and job runner when the store can be read back (a 404 that says why when it cannot),
// a dead letter by id, the audit log, and the replay rate a request asks for, checked against the limits.
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { AdminState, AuditEntry } from './admin-state.js';
import { callerOf, query, reading } from './admin-request.js';
import type { Replayer } from './replay.js';
import type { JobRunner } from './replay-jobs.js';
import type { DeadLetterQueries, DeadLetterStore, StoredLetter } from './store.js';

export interface AdminOptions {
  readonly token: string;
  readonly store: DeadLetterStore;
  readonly state: AdminState;
  /** Undefined when the store cannot be read back. */
  readonly replayer: Replayer | undefined;
  readonly jobs: JobRunner | undefined;
  readonly rates: { readonly defaultRate: number; readonly maxRate: number };
  readonly now: () => Date;
  readonly newId: () => string;
}

/** `params`: the path's `:name` segments, as sent (decodeId decodes an id, refusing bad percent-encoding). */
export type Handler = (ctx: RequestContext, params: readonly string[]) => Promise<void>;

export interface AdminContext {
  readonly options: AdminOptions;
  queriesFor(): DeadLetterQueries;
  requireReplay(): { replayer: Replayer; jobs: JobRunner };
  find(queries: DeadLetterQueries, id: string): Promise<StoredLetter>;
  audit(
    ctx: RequestContext,
    action: AuditEntry['action'],
    what: Record<string, unknown>,
    result: Record<string, unknown>,
  ): Promise<void>;
  rateOf(ctx: RequestContext): number;
}

export function adminContext(options: AdminOptions): AdminContext {
  const { token, store, state, replayer, jobs, rates, now, newId } = options;
  return {
    options,
    queriesFor() {
      if (store.query) return store.query;
      throw new HttpError(
        404,
        'not_found',
        `the ${store.kind} store keeps dead letters on the dead-letter topic: read them there (list, show, replay and purge need DLQ_STORE=file or postgres)`,
      );
    },
    requireReplay() {
      if (replayer && jobs) return { replayer, jobs };
      throw new HttpError(
        404,
        'not_found',
        `replay needs a store that can be read back (DLQ_STORE=file or postgres); this one is ${store.kind}`,
      );
    },
    async find(queries, id) {
      const stored = await reading(() => queries.get(id));
      if (!stored) throw new HttpError(404, 'not_found', `no dead letter with id ${JSON.stringify(id)}`);
      return stored;
    },
    async audit(ctx, action, what, result) {
      const entry = { id: newId(), at: now().toISOString(), action, caller: callerOf(ctx, token), what, result };
      await reading(() => state.appendAudit(entry));
    },
    rateOf(ctx) {
      const raw = query(ctx, 'rate');
      if (raw === undefined) return rates.defaultRate;
      const rate = Number(raw);
      if (!Number.isFinite(rate) || rate <= 0 || rate > rates.maxRate)
        throw new HttpError(
          400,
          'bad_request',
          `rate must be a number of events per second above 0 and at most ${rates.maxRate} (DLQ_REPLAY_RATE_MAX)`,
        );
      return rate;
    },
  };
}
