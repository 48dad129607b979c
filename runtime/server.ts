// Listening and draining. On SIGTERM: readiness turns 503, the listener closes (no new connections),
// idle keep-alive connections are closed, every request in flight finishes (bounded by a timeout),
// then the remaining connections are closed and the process may exit.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import { maxRequestHeaders } from './http/header-limit.js';
import { turnQueue } from './http/turn-queue.js';
import { acceptedConnections } from './http/accepted-connections.js';
import type { Lifecycle } from './lifecycle.js';

export interface ServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Bounds for slow clients: time to the end of the headers and to the end of the request. */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** Statuses for what Node's parser refuses before Koa sees a request; answered with our envelope too. */
function clientErrorStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'request headers are too large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'the request took too long to arrive'];
  return [400, 'malformed HTTP request'];
}

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset or a half-closed socket has nobody to answer.
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, message] = clientErrorStatus(err.code);
  const body = JSON.stringify({
    success: false,
    error: { type: status === 431 ? 'payload_too_large' : 'bad_request', message },
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The paths of the probes: answered in the turn they arrive, never queued behind request work. */
export function isProbe(url: string | undefined): boolean {
  // Asked of every request: compared in place, no array and substring made by splitting off the query.
  if (url === undefined || !(url.startsWith('/healthz') || url.startsWith('/readyz'))) return false;
  const end = url.charCodeAt(1) === 0x68 ? 8 : 7; // after "/healthz" or "/readyz"
  return url.length === end || url.charCodeAt(end) === 0x3f; // exactly, or followed by "?"
}

/**
 * The app as the server's request listener: a probe is handled at once, any other request starts in its
 * turn (http/turn-queue.ts), so a burst of requests arriving together is spread over turns of
 * the event loop, with the loop polling for probes between two.
 */
export function pacedListener(app: Koa): (req: IncomingMessage, res: ServerResponse) => void {
  const handle = app.callback();
  // Koa's handler answers its own errors: the promise it returns never rejects.
  const start = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  return (req, res) => {
    if (isProbe(req.url)) start(req, res);
    else turnQueue.enter(start, req, res);
  };
}

function noteAccepted(): void {
  acceptedConnections.note();
}

export async function listen(app: Koa, options: ServerOptions): Promise<Server> {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      keepAliveTimeout: 65_000,
      maxHeaderSize: 16 * 1024,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1000, Math.ceil((options.headersTimeoutMs ?? 10_000) / 2)),
    },
    pacedListener(app),
  );
  // Node drops headers past this count silently; keeping one more than the limit lets the app see that a
  // request has too many and refuse it with 431 (runtime/http/header-limit.ts) rather than lose some.
  server.maxHeadersCount = maxRequestHeaders + 1;
  server.on('clientError', answerClientError);
  // Keeps the turns short while connections arrive: libuv accepts one per turn (http/accepted-connections.ts).
  server.on('connection', noteAccepted);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export interface DrainResult {
  /** Requests still running when the timeout ended the wait. */
  readonly abandoned: number;
}

export async function drain(server: Server, lifecycle: Lifecycle, timeoutMs: number): Promise<DrainResult> {
  lifecycle.markStopping();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  // Requests still waiting for their turn have not started yet: not in flight, but not to be cut off either.
  const idle = turnQueue.settled().then(() => lifecycle.idle());
  const outcome = await Promise.race([idle.then(() => 'idle' as const), timedOut]);
  clearTimeout(timer);
  const abandoned = outcome === 'timeout' ? lifecycle.inFlight : 0;
  server.closeAllConnections();
  await closed;
  return { abandoned };
}
