// Dead letters forwarded to a KafkaSink (a dead-letter topic) through the same sender the sink-forwarder
// uses: retried with backoff, and `append` resolves only when the sink answered 2xx. The event goes as it
// arrived, knativeerror* extensions included, so the topic holds everything the file store would.
// A topic cannot be read back over the KafkaSink's HTTP ingress: no list, show or replay here.
import type { EventSender } from '../events/sender.js';
import { storedEvent } from './record.js';
import type { DeadLetterStore } from './store.js';

export function createKafkaSinkStore(sender: EventSender): DeadLetterStore {
  return {
    kind: 'kafka-sink',
    async append(letter) {
      await sender.send(storedEvent(letter));
    },
    size: () => undefined,
    async close() {},
  };
}
