// The forwarding limit: plain Koa doing exactly the bare forwarder's work (forward-event.cjs) — what the
// framework costs a forwarder before any CloudEvents SDK, logging or metrics. Bundled like koa-minimal.cjs.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS like the floor */
'use strict';
const Koa = require('koa');
const { outgoingFor, post } = require('./forward-event.cjs');

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method === 'GET') {
    ctx.body = { status: 'ok' };
    return;
  }
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  let outgoing;
  try {
    outgoing = outgoingFor(ctx.req.headers, Buffer.concat(chunks));
  } catch (err) {
    ctx.throw(400, err.message);
  }
  const status = await post(outgoing);
  if (status < 200 || status >= 300) ctx.throw(502, `receiver answered ${status}`);
  // Body first: a null body set after the status would turn the 202 into a 204.
  if (outgoing.answer) {
    ctx.type = 'application/json';
    ctx.body = outgoing.answer;
  } else ctx.body = null;
  ctx.status = 202;
});
app.listen(Number(process.env.PORT));
