// A listener of its own for the probes, /healthz and /readyz (PROBE_PORT). Node 20's libuv accepts one connection
// per turn of the event loop on a listening socket, so under a burst a probe's new connection to PORT waits in the
// kernel's accept queue behind every connection that came before it, a turn each (bench/memory-load.mjs: 100-150
// ms behind 50-120 connections). A second listening socket is polled in the same turns as the first: a probe that
// connects here is accepted in the next turn, whatever PORT's queue holds. The probes are answered by the same app
// as on PORT (its routes, lifecycle, log line and metrics); any other request is refused here without the app.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type Koa from 'koa';
import { answerClientError, isProbe } from './server.js';

export interface ProbeServer {
  readonly server: Server;
  /** Hands the probes to another app from now on (the real one, after listen-while-starting's). */
  serve(app: Koa): void;
  /** Stops listening and closes its connections: the drain's last step, so /readyz says "draining" until then. */
  close(): Promise<void>;
}

const notServedHere = JSON.stringify({
  success: false,
  error: { type: 'not_found', message: 'PROBE_PORT serves GET /healthz and /readyz only: events go to PORT' },
});

function refuse(res: ServerResponse): void {
  res.writeHead(404, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(notServedHere),
  });
  res.end(notServedHere);
}

export async function listenForProbes(app: Koa, port: number, host?: string): Promise<ProbeServer> {
  let handle = app.callback();
  // Koa's handler answers its own errors: the promise it returns never rejects.
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (isProbe(req.url)) void handle(req, res);
    else refuse(res);
  };
  // A probe is one small GET: short bounds, and no keep-alive worth holding (Knative's probers open a connection each).
  const server = createServer(
    { headersTimeout: 5000, requestTimeout: 10_000, keepAliveTimeout: 5000, maxHeaderSize: 16 * 1024 },
    listener,
  );
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    serve(next) {
      handle = next.callback();
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
