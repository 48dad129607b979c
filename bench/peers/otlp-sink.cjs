// An OTLP/HTTP endpoint that takes every export (POST /v1/traces → 200) and counts requests and bytes, for
// bench/tracing-cost.mjs: the collector's own cost stays out of the runtime's figures. GET / reports the counts.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, like the other peers: started as a plain file */
'use strict';
const http = require('node:http');

let requests = 0;
let bytes = 0;
http
  .createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, bytes }));
      return;
    }
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
