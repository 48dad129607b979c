// Attribution step between the floor and our runtime: Koa alone, reading the body, checking the ce- headers,
// parsing the JSON and answering it — what the framework costs before any CloudEvents, logging or metrics.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS like the floor */
'use strict';
const Koa = require('koa');

const required = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type'];
const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method === 'GET') {
    ctx.body = { status: 'ok' };
    return;
  }
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  if (required.some((name) => !ctx.get(name))) ctx.throw(400, 'missing CloudEvent attributes');
  ctx.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
});
app.listen(Number(process.env.PORT));
