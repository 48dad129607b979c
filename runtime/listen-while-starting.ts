// Direct mode may wait for Vault for up to VAULT_STARTUP_DEADLINE_SECONDS. Listening at once keeps the
// liveness probe (/healthz) answering while /readyz says 503 "starting", so Knative neither kills the pod
// nor routes to it; `serve(app)` then hands the same socket to the real app.
import type { Server } from 'node:http';
import type Koa from 'koa';
import { buildApp } from './app.js';
import { createLifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { HttpError } from './http/errors.js';
import { listen, pacedListener } from './server.js';

export interface StartingServer {
  readonly server: Server;
  /** The app that answers until `serve`: probes (/readyz 503 "starting") and a 503 for every event. */
  readonly app: Koa;
  serve(app: Koa): void;
}

export async function listenWhileStarting(port: number, log: Logger): Promise<StartingServer> {
  const notYet = () => Promise.reject(new HttpError(503, 'shutting_down', 'starting: loading secrets from Vault'));
  // Every POST path (`/{*path}`: any number of segments) is answered 503 until the real app takes over.
  const starting = buildApp({
    log,
    lifecycle: createLifecycle(),
    role: { routes: [{ method: 'POST', path: '/{*path}', handle: notYet }] },
  });
  const server = await listen(starting, { port });
  return {
    server,
    app: starting,
    serve(app) {
      server.removeAllListeners('request');
      server.on('request', pacedListener(app));
    },
  };
}
