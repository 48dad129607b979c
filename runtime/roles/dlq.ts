// The dead-letter sink the Broker's and Triggers' delivery.deadLetterSink point to. Every event is stored
// (with the knativeerror* attributes Knative adds) before the 2xx; if the store fails the answer is a 5xx,
// so the broker keeps the event and tries again. What is not a valid CloudEvent is stored raw rather than
// refused (dlq/read-dead-letter.ts). With DLQ_ADMIN_TOKEN set, /dead-letters lists, shows, replays (to the
// failed destination by default, one or as rate-limited jobs) and purges, with an audit log, and /dead-letters/ui
// serves the console (dlq/admin.ts).
import type { DlqConfig } from '../config.js';
import { adminRoutes } from '../dlq/admin.js';
import { adminFileFor, memoryAdminState, openFileAdminState, type AdminState } from '../dlq/admin-state.js';
import { openFileStore } from '../dlq/file-store.js';
import { createKafkaSinkStore } from '../dlq/kafka-sink-store.js';
import { readDeadLetter } from '../dlq/read-dead-letter.js';
import { deadLetterFrom, type DeadLetter } from '../dlq/record.js';
import { createReplayer, type ReplaySender } from '../dlq/replay.js';
import { createJobRunner } from '../dlq/replay-jobs.js';
import { createDestinationDelivery } from '../dlq/replay-delivery.js';
import { replayTargets, type ResolvedTarget } from '../dlq/replay-target.js';
import type { AppendResult, DeadLetterStore } from '../dlq/store.js';
import { createEventSender } from '../events/sender.js';
import { readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { endDeadLetterSpan, startDeadLetterSpan } from '../tracing/dead-letter.js';
import { nowMs } from '../tracing/index.js';
import type { RoleDeps, RoleInstance, Route } from './role.js';

export interface DlqRoleOptions {
  /** A store to use instead of the configured one (tests: a store that fails). */
  readonly store?: DeadLetterStore;
}

function senderTo(target: string, url: string, mode: 'binary' | 'structured', config: DlqConfig, deps: RoleDeps) {
  return createEventSender({ target, url, mode, outbound: config.outbound }, deps);
}

async function openStore(config: DlqConfig, deps: RoleDeps): Promise<DeadLetterStore> {
  const store = config.store;
  switch (store.kind) {
    case 'kafka-sink':
      return createKafkaSinkStore(senderTo('dead-letter-sink', store.sink.url, store.sink.contentMode, config, deps));
    case 'postgres': {
      // Imported only for this store: the driver is not loaded (or paid for at start-up) by any other role or store.
      const { openPostgresStore } = await import('../dlq/postgres-store.js');
      return openPostgresStore({ config: store, log: deps.log, now: deps.now });
    }
    case 'file':
      return openFileStore({
        path: store.file,
        log: deps.log,
        onRecreated: (why) => deps.roleObserver?.storeRecreated?.(why),
      });
  }
}

/** POST /: the dead letter stored (durably) before the 202; a store that fails is a 503, so the broker retries. */
function ingestRoute(config: DlqConfig, deps: RoleDeps, store: DeadLetterStore, reportSize: () => void): Route {
  return {
    method: 'POST',
    path: '/',
    async handle(ctx) {
      const started = deps.tracing?.enabled ? nowMs() : undefined;
      const body = await readBody(ctx.req, config.maxBodyBytes);
      const read = readDeadLetter(ctx.req, body, deps);
      const letter = deadLetterFrom(read.event, deps.newId(), deps.now(), read.invalid, read.data);
      // For the request log and metrics (a raw capture's attributes may be missing or not strings).
      const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
      ctx.state.event = { id: text(letter.event.id), type: text(letter.event.type), source: text(letter.event.source) };
      // A CONSUMER span in the failed delivery's trace, knativeerrordest/knativeerrorcode as attributes.
      const span = startDeadLetterSpan(deps.tracing, ctx.req.headers, letter, started);
      let stored;
      try {
        stored = await store.append(letter);
      } catch (err) {
        endDeadLetterSpan(span, { error: err });
        // The sender's own errors already say "try again" (5xx); anything else is the disk or the database.
        if (err instanceof HttpError && err.status >= 500) throw err;
        throw new HttpError(503, 'store_failed', 'the dead letter could not be stored; try again', { cause: err });
      }
      logStored(deps, store, letter, stored);
      if (!stored.duplicate) reportSize();
      const { response } = ctx; // not Koa's delegating ctx.set/ctx.body/ctx.status (see RequestContext)
      response.set('x-dead-letter-id', stored.id);
      // No body: a 2xx with a body that is not a CloudEvent is an error to the Kafka broker's dispatcher.
      response.body = null;
      response.status = 202;
      ctx.state.outcome = 'stored';
      endDeadLetterSpan(span, { status: 202, deadLetterId: stored.id, duplicate: stored.duplicate });
    },
  };
}

/** The stored dead letter in the log (a warning: something failed) and the metrics; a repeat only logged. */
function logStored(deps: RoleDeps, store: DeadLetterStore, letter: DeadLetter, stored: AppendResult): void {
  const destination = letter.error.destination ?? 'unknown';
  const code = letter.error.code ?? 'unknown';
  if (!stored.duplicate) deps.roleObserver?.deadLetterStored?.(destination, code);
  const logged = {
    deadLetter: stored.id,
    eventId: letter.event.id,
    eventType: letter.event.type,
    destination,
    code,
    store: store.kind,
  };
  if (stored.duplicate) deps.log.info(logged, 'dead letter already stored (a repeated delivery): not stored again');
  else if (letter.invalid !== undefined)
    deps.log.warn({ ...logged, invalid: letter.invalid }, 'dead letter stored raw: it is not a valid CloudEvent');
  else deps.log.warn(logged, 'dead letter stored');
}

/** The admin API's own records (replay jobs, the audit log), kept where the dead letters are. */
async function openAdminState(config: DlqConfig, store: DeadLetterStore): Promise<AdminState | undefined> {
  if (!config.adminToken) return undefined;
  if (store.kind === 'file' && config.store.kind === 'file') return openFileAdminState(adminFileFor(config.store.file));
  if (store.kind === 'postgres' && config.store.kind === 'postgres') {
    const { openPostgresAdminState } = await import('../dlq/admin-state-postgres.js');
    return openPostgresAdminState(config.store);
  }
  return memoryAdminState();
}

/** Replay (one, or as jobs) when the store can be read back and the admin API is on. */
function replayParts(config: DlqConfig, deps: RoleDeps, store: DeadLetterStore, state: AdminState | undefined) {
  // to=broker: the broker's ingress (202, no reply). To a destination or an allow-listed URL the dlq acts as
  // Knative's dispatcher for that one Trigger, publishing a reply event into the broker (replay-delivery.ts).
  const brokerSender = config.replayUrl ? senderTo('broker', config.replayUrl, 'binary', config, deps) : undefined;
  const toDestination = createDestinationDelivery({
    outbound: config.outbound,
    clock: deps.clock,
    log: deps.log,
    stopping: deps.stopping,
    broker: brokerSender,
    maxReplyBytes: config.maxBodyBytes,
    newId: deps.newId,
    now: deps.now,
  });
  const senderFor = (target: ResolvedTarget): ReplaySender =>
    target.to === 'broker' && brokerSender ? brokerSender : toDestination.to(target.url);
  if (!store.query || !state) return { toDestination, replayer: undefined, jobs: undefined };
  const { now, newId, log } = deps;
  const targets = replayTargets(config.replayUrl, config.replay.targets);
  const replayer = createReplayer({ store: store.query, targets, senderFor, now, newId, log, tracing: deps.tracing });
  const jobs = createJobRunner({
    queries: store.query,
    state,
    replayer,
    storeKind: store.kind,
    now,
    newId,
    log,
    sleep: (ms) => deps.clock.sleep(ms),
  });
  return { toDestination, replayer, jobs };
}

export async function createDlqRole(
  config: DlqConfig,
  deps: RoleDeps,
  options: DlqRoleOptions = {},
): Promise<RoleInstance> {
  const store = options.store ?? (await openStore(config, deps));
  const reportSize = () => {
    const size = store.size();
    if (size) deps.roleObserver?.storeSize?.(size.bytes, size.records);
  };
  reportSize();
  const state = await openAdminState(config, store);
  const { toDestination, replayer, jobs } = replayParts(config, deps, store, state);
  const admin =
    config.adminToken && state
      ? adminRoutes({
          token: config.adminToken,
          store,
          state,
          replayer,
          jobs,
          rates: { defaultRate: config.replay.defaultRate, maxRate: config.replay.maxRate },
          now: deps.now,
          newId: deps.newId,
        })
      : [];
  if (!config.adminToken) deps.log.info('DLQ_ADMIN_TOKEN is not set: the /dead-letters admin API and console are off');
  return {
    routes: [ingestRoute(config, deps, store, reportSize), ...admin],
    notReady: () => store.notReady?.(),
    async close() {
      // Running replay jobs are saved as interrupted (resumable) before their store closes.
      await jobs?.close();
      toDestination.close();
      await state?.close();
      await store.close();
    },
  };
}
