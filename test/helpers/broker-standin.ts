// Stands in for a Knative Broker with one Trigger (there is no Knative here): its ingress answers 202 to a
// CloudEvent, then delivers it in binary mode to the subscriber URL, retrying what Knative retries
// (connection errors, 5xx, 404, 408, 409, 429) up to `retries` times, and dead-letters it to `deadLetterUrl`
// with the extension attributes Knative adds: knativeerrordest (the subscriber URL), knativeerrorcode (its
// last status) and knativeerrordata (its response body cut to 1024 characters, base64). Replies are not
// published back: the pipelines tested here end in a KafkaSink. The local-pipeline runner has a full broker.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEvent } from 'cloudevents';
import { serialise } from '../../runtime/events/sender.js';

export interface BrokerStandInOptions {
  readonly subscriberUrl: string;
  readonly deadLetterUrl?: string;
  readonly retries?: number;
  readonly backoffMs?: number;
}

export interface Delivery {
  readonly event: CloudEvent<unknown>;
  /** Status of every attempt to the subscriber (0: no answer). */
  readonly attempts: number[];
  readonly outcome: 'delivered' | 'dead-lettered' | 'lost';
  /** The dead-letter sink's status, when it was called. */
  readonly deadLetterStatus?: number;
}

export interface BrokerStandIn {
  readonly url: string;
  readonly received: CloudEvent<unknown>[];
  readonly deliveries: Delivery[];
  /** Resolves once every event received so far has been delivered or dead-lettered. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const retried = (status: number) => status === 0 || status >= 500 || [404, 408, 409, 429].includes(status);

async function post(url: string, event: CloudEvent<unknown>): Promise<{ status: number; body: string }> {
  const message = serialise(event, 'binary');
  try {
    const res = await fetch(url, { method: 'POST', headers: message.headers, body: message.body });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

export async function startBrokerStandIn(options: BrokerStandInOptions): Promise<BrokerStandIn> {
  const received: CloudEvent<unknown>[] = [];
  const deliveries: Delivery[] = [];
  const running = new Set<Promise<void>>();

  async function deliver(event: CloudEvent<unknown>): Promise<void> {
    const attempts: number[] = [];
    let last = { status: 0, body: '' };
    for (let n = 0; n <= (options.retries ?? 2); n++) {
      if (n > 0) await new Promise((r) => setTimeout(r, options.backoffMs ?? 5));
      last = await post(options.subscriberUrl, event);
      attempts.push(last.status);
      if (last.status >= 200 && last.status < 300) {
        deliveries.push({ event, attempts, outcome: 'delivered' });
        return;
      }
      if (!retried(last.status)) break;
    }
    if (!options.deadLetterUrl) {
      deliveries.push({ event, attempts, outcome: 'lost' });
      return;
    }
    const deadLetter = event.cloneWith({
      knativeerrordest: options.subscriberUrl,
      knativeerrorcode: String(last.status),
      knativeerrordata: Buffer.from(last.body.slice(0, 1024), 'utf8').toString('base64'),
    });
    const answer = await post(options.deadLetterUrl, deadLetter);
    deliveries.push({
      event,
      attempts,
      outcome: answer.status >= 200 && answer.status < 300 ? 'dead-lettered' : 'lost',
      deadLetterStatus: answer.status,
    });
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let event: CloudEvent<unknown>;
      try {
        const parsed = HTTP.toEvent({
          headers: req.headers as Record<string, string>,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        event = (Array.isArray(parsed) ? parsed[0] : parsed) as CloudEvent<unknown>;
        event.validate();
      } catch (err) {
        res.writeHead(400).end(String(err));
        return;
      }
      received.push(event);
      res.writeHead(202).end();
      const delivery = deliver(event).finally(() => running.delete(delivery));
      running.add(delivery);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    deliveries,
    async settled() {
      while (running.size > 0) await Promise.all([...running]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
