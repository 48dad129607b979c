// The floor: a bare node:http server doing the least a CloudEvent echo can do — read the body, check the
// required ce- headers, parse the JSON and answer it back. CommonJS like our bundle, so both pay the same loader.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: see above */
'use strict';
const http = require('node:http');

const required = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type'];

http
  .createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let data;
      try {
        if (required.some((name) => !req.headers[name])) throw new Error('missing CloudEvent attributes');
        data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    });
  })
  .listen(Number(process.env.PORT));
