// app.ts replaces Koa's response.set for one header with a quicker one: every form Koa's takes must still set
// the headers Koa's would (one header, an object of them, a list value, a number), and nothing after the head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../runtime/app.js';
import type { RequestContext } from '../runtime/http/request-state.js';
import { silentLogger, readyLifecycle } from './helpers/quiet.js';

test("ctx.set keeps Koa's forms: one header, an object, a list value, a number; Content-Type and Content-Length from the body", async (t) => {
  const log = silentLogger();
  const lifecycle = readyLifecycle();
  const afterHead: string[] = [];
  const handle = (ctx: RequestContext) => {
    ctx.set('X-One', 'a');
    ctx.set({ 'X-Two': 'b', 'X-Three': ['c', 'd'] });
    ctx.set('X-Four', ['e', 'f']);
    ctx.set('X-Five', 5 as unknown as string);
    ctx.set('Content-Type', 'application/xml');
    ctx.body = Buffer.from('<a/>');
    ctx.res.once('finish', () => {
      ctx.set('X-Late', 'never');
      afterHead.push(String(ctx.res.getHeader('x-late')));
    });
    return Promise.resolve();
  };
  const server = buildApp({ log, lifecycle, role: { routes: [{ method: 'POST', path: '/', handle }] } }).listen(
    0,
    '127.0.0.1',
  );
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise((resolve) => server.once('listening', resolve));
  const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST' });
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), '<a/>');
  const headers = Object.fromEntries(answer.headers);
  assert.equal(headers['x-one'], 'a');
  assert.equal(headers['x-two'], 'b');
  assert.equal(headers['x-three'], 'c, d');
  assert.equal(headers['x-four'], 'e, f');
  assert.equal(headers['x-five'], '5');
  assert.equal(headers['content-type'], 'application/xml');
  assert.equal(headers['content-length'], '4');
  assert.deepEqual(afterHead, ['undefined']);
});
