// What in-process tests of the app need and do not look at: a logger that writes nowhere, and a lifecycle
// already ready.
import { Writable } from 'node:stream';
import { createLifecycle, type Lifecycle } from '../../runtime/lifecycle.js';
import { createLogger, type Logger } from '../../runtime/logger.js';

export function silentLogger(): Logger {
  return createLogger({ level: 'silent', base: {}, destination: new Writable({ write: (_c, _e, done) => done() }) });
}

export function readyLifecycle(): Lifecycle {
  const lifecycle = createLifecycle();
  lifecycle.markReady();
  return lifecycle;
}
