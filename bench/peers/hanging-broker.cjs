// A Knative Broker that never answers: reads each request's body and holds the request until the caller gives
// up (bench/memory-load.mjs). Its own process, as the broker is elsewhere in a cluster: reading the bodies
// forwarded to it (up to ~70 MiB a second) in the process that probes /healthz delayed the probes' own answers.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS like the other peers */
'use strict';
const http = require('node:http');

const server = http.createServer((req) => req.resume());
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
