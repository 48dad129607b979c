// A local stand-in for the Knative Broker ingress: reads the whole request and answers 202, as the broker
// does for an accepted event. Runs in its own process so it never shares an event loop with the load.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: see above */
'use strict';
const http = require('node:http');

http
  .createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200);
      res.end();
      return;
    }
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(202);
      res.end();
    });
  })
  .listen(Number(process.env.PORT));
