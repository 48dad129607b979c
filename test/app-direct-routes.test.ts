// A request whose method and path are exactly a plain route's is handed to that route without the router
// (app.ts dispatchDirect); the answers must be the router's: the same route chosen, failures as the envelope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../runtime/app.js';
import { HttpError } from '../runtime/http/errors.js';
import type { RequestContext } from '../runtime/http/request-state.js';
import type { Route } from '../runtime/roles/role.js';
import { silentLogger, readyLifecycle } from './helpers/quiet.js';

const answer = (name: string) => (ctx: RequestContext, params: readonly string[]) => {
  ctx.body = { route: name, params };
  return Promise.resolve();
};

test('plain routes answered directly are the routes the router would choose, and a synchronous throw is the envelope', async (t) => {
  const log = silentLogger();
  const lifecycle = readyLifecycle();
  const routes: Route[] = [
    // Registered first, it matches /fixed too: the router runs it, not the plain route after it.
    { method: 'GET', path: '/items/:name', handle: answer('param') },
    { method: 'GET', path: '/items/fixed', handle: answer('fixed') },
    { method: 'GET', path: '/plain', handle: answer('plain') },
    {
      method: 'POST',
      path: '/',
      handle() {
        throw new HttpError(400, 'invalid_event', 'refused before any promise');
      },
    },
  ];
  const ended: Array<{ route: string | undefined; status: number }> = [];
  const observer = {
    requestStarted() {},
    requestEnded: (ctx: RequestContext) => ended.push({ route: ctx.state.route, status: ctx.status }),
  };
  const server = buildApp({ log, lifecycle, role: { routes }, observers: [observer] }).listen(0, '127.0.0.1');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  assert.deepEqual(await (await fetch(`${url}/items/fixed`)).json(), { route: 'param', params: ['fixed'] });
  assert.deepEqual(await (await fetch(`${url}/plain`)).json(), { route: 'plain', params: [] });
  const refused = await fetch(`${url}/`, { method: 'POST', body: '{}' });
  assert.equal(refused.status, 400);
  const envelope = (await refused.json()) as { error: { type: string; message: string } };
  assert.equal(envelope.error.type, 'invalid_event');
  assert.equal(envelope.error.message, 'refused before any promise');
  // Through the router as before: a trailing slash and HEAD on a GET route.
  assert.equal((await fetch(`${url}/plain/`)).status, 404);
  assert.equal((await fetch(`${url}/plain`, { method: 'HEAD' })).status, 200);
  assert.deepEqual(ended, [
    { route: '/items/:name', status: 200 },
    { route: '/plain', status: 200 },
    { route: '/', status: 400 },
    { route: undefined, status: 404 },
    { route: '/plain', status: 200 },
  ]);
});
