// Dead letters forwarded to a KafkaSink (a dead-letter topic) through the same sender the sink-forwarder
// uses: retried with backoff, and `append` resolves only when the sink answered 2xx. The event goes as it
// arrived (its data byte for byte), knativeerror* extensions included, so the topic holds everything the
// file store would.
// A topic cannot be read back over the KafkaSink's HTTP ingress: no list, show or replay here (no `query`),
// and no duplicate detection (a consumer can de-duplicate on source, id and knativeerrordest).
import { CloudEvent } from 'cloudevents';
import type { EventSender } from '../events/sender.js';
import { storedWire, type DeadLetter } from './record.js';
import type { DeadLetterStore } from './store.js';

const extensionName = /^[a-z0-9]{1,20}$/;
/** Names the SDK's CloudEvent class uses itself: as attributes they would shadow its methods. */
const reserved = new Set(['data', 'data_base64', 'validate', 'constructor']);

/**
 * A dead letter kept raw (not a valid CloudEvent) still has to travel as one: the attributes that are valid
 * as they are, the raw body as data, and why in `knativeeventsinvalid`.
 */
function rawEvent(letter: DeadLetter): CloudEvent<unknown> {
  const raw = letter.event;
  const attributes: Record<string, unknown> = {
    specversion: '1.0',
    id: typeof raw.id === 'string' && raw.id !== '' ? raw.id : letter.id,
    source: typeof raw.source === 'string' && raw.source !== '' ? raw.source : '/knative-events/dlq',
    type: typeof raw.type === 'string' && raw.type !== '' ? raw.type : 'dev.knative-events.dead-letter.unparsed',
    knativeeventsinvalid: letter.invalid,
  };
  for (const [name, value] of Object.entries(raw)) {
    if (name in attributes || reserved.has(name) || !extensionName.test(name)) continue;
    if (['specversion', 'time', 'dataschema'].includes(name)) continue;
    attributes[name] = String(value);
  }
  if (typeof raw.data_base64 === 'string') attributes.data = Buffer.from(raw.data_base64, 'base64');
  return new CloudEvent<unknown>(attributes, false);
}

export function createKafkaSinkStore(sender: EventSender): DeadLetterStore {
  return {
    kind: 'kafka-sink',
    async append(letter) {
      await sender.send(letter.invalid === undefined ? storedWire(letter) : rawEvent(letter));
      return { id: letter.id, duplicate: false };
    },
    size: () => undefined,
    async close() {},
  };
}
