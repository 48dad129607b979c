// The forwarding floor: bare node:http receiving the handler's (legacy) or the sink-forwarder's (binary) event
// and posting it on to BROKER_URL (forward-event.cjs); 202 only after the receiver's 2xx, like our roles.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS like the floor */
'use strict';
const http = require('node:http');
const { outgoingFor, post } = require('./forward-event.cjs');

http
  .createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      let outgoing;
      try {
        outgoing = outgoingFor(req.headers, Buffer.concat(chunks));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
        return;
      }
      const status = await post(outgoing);
      const ok = status >= 200 && status < 300;
      res.writeHead(ok ? 202 : 502, outgoing.answer ? { 'content-type': 'application/json' } : {});
      res.end(ok ? outgoing.answer : '');
    });
  })
  .listen(Number(process.env.PORT));
