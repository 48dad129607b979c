// The dlq role served on loopback with a store the test made itself (a file store on a file system that
// fails on purpose), wired the way assemble() wires it, with logs captured.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { buildApp } from '../../runtime/app.js';
import { parseConfig, type DlqConfig } from '../../runtime/config.js';
import type { DeadLetterStore } from '../../runtime/dlq/store.js';
import { createHttpPoster } from '../../runtime/events/http-client.js';
import { createLifecycle } from '../../runtime/lifecycle.js';
import { createLogger, type Logger } from '../../runtime/logger.js';
import { createDlqRole } from '../../runtime/roles/dlq.js';
import type { RoleObserver } from '../../runtime/roles/role.js';
import { listen } from '../../runtime/server.js';

export interface ServedDlq {
  readonly url: string;
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export function captureLogger(): { log: Logger; logs: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    log: createLogger({ level: 'info', base: {}, destination }),
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export async function serveDlq(
  store: DeadLetterStore,
  options: {
    env?: Record<string, string>;
    log?: Logger;
    logs?: () => Array<Record<string, unknown>>;
    roleObserver?: RoleObserver;
  } = {},
): Promise<ServedDlq> {
  const config = parseConfig({ ROLE: 'dlq', LOG_LEVEL: 'silent', ...options.env }) as DlqConfig;
  const captured = options.log ? { log: options.log, logs: options.logs ?? (() => []) } : captureLogger();
  const poster = createHttpPoster();
  const lifecycle = createLifecycle();
  let n = 0;
  const role = await createDlqRole(
    config,
    {
      log: captured.log,
      env: {},
      poster,
      clock: { sleep: async () => {}, random: () => 0 },
      newId: () => `dl-${++n}`,
      now: () => new Date(),
      secrets: { get: () => undefined },
      loadFunction: () => Promise.reject(new Error('no function in the dlq role')),
      roleObserver: options.roleObserver,
      stopping: () => false,
    },
    { store },
  );
  const server: Server = await listen(buildApp({ log: captured.log, lifecycle, role }), { port: 0, host: '127.0.0.1' });
  lifecycle.markReady();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    logs: captured.logs,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await role.close?.();
      await poster.close();
    },
  };
}
