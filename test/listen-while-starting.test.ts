// While direct mode waits for Vault: the port answers at once, /healthz 200, /readyz 503 "starting", every POST
// path 503 (the router's catch-all `/{*path}`), and `serve(app)` hands the same socket to the real app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../runtime/app.js';
import { listenWhileStarting } from '../runtime/listen-while-starting.js';
import { silentLogger, readyLifecycle } from './helpers/quiet.js';

test('listening while starting: health answers, events are 503 on any path, then the real app serves the same port', async (t) => {
  const log = silentLogger();
  const starting = await listenWhileStarting(0, log);
  t.after(() => new Promise<void>((resolve) => starting.server.close(() => resolve())));
  const url = `http://127.0.0.1:${(starting.server.address() as AddressInfo).port}`;
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
  assert.equal((await fetch(`${url}/readyz`)).status, 503);
  for (const path of ['/', '/a', '/a/b']) {
    const answer = await fetch(`${url}${path}`, { method: 'POST', body: '{}' });
    assert.equal(answer.status, 503, path);
    const body = (await answer.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'shutting_down');
    assert.match(body.error.message, /loading secrets from Vault/);
  }
  const lifecycle = readyLifecycle();
  const taken = (ctx: { status: number; body: unknown }) => {
    ctx.status = 202;
    ctx.body = { taken: true };
    return Promise.resolve();
  };
  const real = buildApp({ log, lifecycle, role: { routes: [{ method: 'POST', path: '/', handle: taken }] } });
  starting.serve(real);
  const served = await fetch(`${url}/`, { method: 'POST', body: '{}' });
  assert.equal(served.status, 202);
  assert.deepEqual(await served.json(), { taken: true });
  starting.server.closeAllConnections();
});
