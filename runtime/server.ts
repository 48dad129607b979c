// Listening and draining. On SIGTERM: readiness turns 503, the listener closes (no new connections),
// idle keep-alive connections are closed, every request in flight finishes (bounded by a timeout),
// then the remaining connections are closed and the process may exit.
import { createServer, type Server } from 'node:http';
import type Koa from 'koa';
import type { Lifecycle } from './lifecycle.js';

export interface ServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Bounds for slow clients: time to the end of the headers and to the end of the request. */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export async function listen(app: Koa, options: ServerOptions): Promise<Server> {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      keepAliveTimeout: 65_000,
    },
    app.callback(),
  );
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
  const outcome = await Promise.race([lifecycle.idle().then(() => 'idle' as const), timedOut]);
  clearTimeout(timer);
  const abandoned = outcome === 'timeout' ? lifecycle.inFlight : 0;
  server.closeAllConnections();
  await closed;
  return { abandoned };
}
