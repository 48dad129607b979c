// The built bundle (`npm run build` first) is minified without esbuild's keepNames (build/build.mjs): functions
// and classes must still carry their source names, because logged errors show them. A sink-forwarder whose sink
// refuses connections answers 503 and logs the failure with its error: its `type` (the constructor's name, set by
// pino) and its stack's frames must read as in the source, not as minified identifiers.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, startBundle } from './helpers/bundle.js';
import { waitFor } from './helpers/wait.js';

/** A port nothing listens on: taken, then closed again. */
async function closedPort(): Promise<number> {
  const port = await freePort();
  await new Promise<void>((resolve) => {
    const server = createServer().listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
  return port;
}

interface LoggedError {
  readonly type?: string;
  readonly message?: string;
  readonly stack?: string;
}

test('a logged upstream failure names HttpError and the runtime functions that made it', async () => {
  const running = await startBundle({
    ROLE: 'sink-forwarder',
    FUNCTION: 'echo',
    KAFKA_SINK_URL: `http://127.0.0.1:${await closedPort()}/`,
    OUTBOUND_RETRIES: '0',
  });
  try {
    const res = await fetch(running.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'names-1',
        'ce-source': '/test',
        'ce-type': 'test.names',
      },
      body: JSON.stringify({ id: 'names-1' }),
    });
    assert.equal(res.status, 503);
    const failed = () =>
      running
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"request failed"'))
        .map((line) => JSON.parse(line) as { eventId?: string; err?: LoggedError })
        .find((line) => line.eventId === 'names-1');
    const line = await waitFor(failed, 5000, { what: 'the "request failed" line of names-1' });
    const err = line.err ?? {};
    assert.equal(err.type, 'HttpError');
    assert.match(err.message ?? '', /the sink is unreachable/);
    // Made in sender.ts's finalError, called from the sender's send: a unique name esbuild had to give (a
    // numeric suffix) is still readable; a minified one (`Xe`) is not.
    assert.match(err.stack ?? '', /^HttpError: the sink is unreachable/);
    assert.match(err.stack ?? '', /\n\s+at finalError\d* \(/);
    assert.match(err.stack ?? '', /\n\s+at (?:Object\.)?send \(/);
  } finally {
    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
  }
});
