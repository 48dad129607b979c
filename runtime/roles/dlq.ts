// The dead-letter sink the Broker's and Triggers' delivery.deadLetterSink point to. Every event is stored
// (with the knativeerror* attributes Knative adds) before the 2xx; if the store fails the answer is a 5xx,
// so the broker keeps the event and tries again. With DLQ_ADMIN_TOKEN set, /dead-letters lists, shows and
// replays what is stored.
import type { DlqConfig } from '../config.js';
import { adminRoutes } from '../dlq/admin.js';
import { openFileStore } from '../dlq/file-store.js';
import { createKafkaSinkStore } from '../dlq/kafka-sink-store.js';
import { deadLetterFrom } from '../dlq/record.js';
import { createReplayer } from '../dlq/replay.js';
import type { DeadLetterStore } from '../dlq/store.js';
import { parseCloudEvent } from '../events/parse.js';
import { createEventSender } from '../events/sender.js';
import { readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import type { RoleDeps, RoleInstance, Route } from './role.js';

export interface DlqRoleOptions {
  /** A store to use instead of the configured one (tests: a store that fails). */
  readonly store?: DeadLetterStore;
}

function senderTo(target: string, url: string, mode: 'binary' | 'structured', config: DlqConfig, deps: RoleDeps) {
  return createEventSender({ target, url, mode, outbound: config.outbound }, deps);
}

async function openStore(config: DlqConfig, deps: RoleDeps): Promise<DeadLetterStore> {
  if (config.store.kind === 'kafka-sink') {
    return createKafkaSinkStore(senderTo('dead-letter-sink', config.store.sink.url, config.store.sink.contentMode, config, deps));
  }
  return openFileStore({ path: config.store.file, log: deps.log });
}

export async function createDlqRole(config: DlqConfig, deps: RoleDeps, options: DlqRoleOptions = {}): Promise<RoleInstance> {
  const store = options.store ?? (await openStore(config, deps));
  const reportSize = () => {
    const size = store.size();
    if (size) deps.roleObserver?.storeSize?.(size.bytes, size.records);
  };
  reportSize();
  const parseOptions = { legacy: false, requireJson: false, newId: deps.newId, now: deps.now };

  const ingest: Route = {
    method: 'POST',
    path: '/',
    async handle(ctx) {
      const body = await readBody(ctx.req, config.maxBodyBytes);
      const event = parseCloudEvent(ctx.req.headers, body, parseOptions);
      ctx.state.event = event;
      const letter = deadLetterFrom(event, deps.newId(), deps.now());
      try {
        await store.append(letter);
      } catch (err) {
        // The sender's own errors already say "try again" (5xx); anything else is the disk.
        if (err instanceof HttpError && err.status >= 500) throw err;
        throw new HttpError(503, 'store_failed', 'the dead letter could not be stored; try again', { cause: err });
      }
      const destination = letter.error.destination ?? 'unknown';
      const code = letter.error.code ?? 'unknown';
      deps.roleObserver?.deadLetterStored?.(destination, code);
      reportSize();
      deps.log.warn({ deadLetter: letter.id, eventId: event.id, eventType: event.type, destination, code, store: store.kind }, 'dead letter stored');
      ctx.set('x-dead-letter-id', letter.id);
      // No body: a 2xx with a body that is not a CloudEvent is an error to the Kafka broker's dispatcher.
      ctx.body = null;
      ctx.status = 202;
      ctx.state.outcome = 'stored';
    },
  };

  const replayer = config.replayUrl
    ? createReplayer({ store, sender: senderTo('replay', config.replayUrl, 'binary', config, deps), target: config.replayUrl, now: deps.now, log: deps.log })
    : undefined;
  const admin = config.adminToken ? adminRoutes({ token: config.adminToken, store, replayer }) : [];
  if (!config.adminToken) deps.log.info('DLQ_ADMIN_TOKEN is not set: the /dead-letters admin API is off');

  return {
    routes: [ingest, ...admin],
    close: () => store.close(),
  };
}
