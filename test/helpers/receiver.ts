// A loopback HTTP server standing in for a Knative ingress (Broker or KafkaSink): it records every request
// (headers and raw body) and answers with whatever the test programs, by default 202 as Knative does.
// Requests are parsed with the real CloudEvents SDK (HTTP.toEvent), so what a test asserts on is what a
// real CloudEvents receiver would see.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP, type CloudEvent } from 'cloudevents';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The CloudEvent the SDK reads from the request (undefined if it is not one). */
  readonly event: CloudEvent<unknown> | undefined;
}

/** What to do with the next request: answer a status, hang, or reset the connection. */
export type Behaviour = { status: number; body?: string; delayMs?: number } | { hang: true } | { reset: true };

export interface Receiver {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Accepted (2xx-answered) requests only. */
  accepted(): RecordedRequest[];
  /** Behaviours consumed one per request; when empty, `fallback` applies. */
  script(...behaviours: Behaviour[]): void;
  setFallback(behaviour: Behaviour): void;
  close(): Promise<void>;
}

function toEvent(headers: IncomingHttpHeaders, body: Buffer): CloudEvent<unknown> | undefined {
  try {
    const result = HTTP.toEvent({ headers: headers as Record<string, string>, body: body.toString('utf8') });
    return Array.isArray(result) ? undefined : (result as CloudEvent<unknown>);
  } catch {
    return undefined;
  }
}

export async function startReceiver(fallback: Behaviour = { status: 202 }): Promise<Receiver> {
  const requests: RecordedRequest[] = [];
  const statuses = new WeakMap<RecordedRequest, number>();
  const queue: Behaviour[] = [];
  let current = fallback;
  const server: Server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        event: toEvent(req.headers, body),
      };
      requests.push(recorded);
      const behaviour = queue.shift() ?? current;
      if ('reset' in behaviour) {
        req.socket.destroy();
        return;
      }
      if ('hang' in behaviour) return;
      const answer = () => {
        statuses.set(recorded, behaviour.status);
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        res.end(behaviour.body ?? '');
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    accepted: () =>
      requests.filter((r) => {
        const status = statuses.get(r);
        return status !== undefined && status >= 200 && status < 300;
      }),
    script: (...behaviours) => queue.push(...behaviours),
    setFallback: (behaviour) => {
      current = behaviour;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
