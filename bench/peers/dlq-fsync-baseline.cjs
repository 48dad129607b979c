// Baseline for the file store's throughput: a bare node:http server that appends each request's body as one
// line to a file and answers 202 after fsync, with the same group commit (requests arriving during a write
// share the next one). No parsing, no index, no checks: the cost of durability alone.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, like the bundle */
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const fd = fs.openSync(process.env.DLQ_FILE, 'a');
let queue = [];
let writing = false;
function flush() {
  if (writing || queue.length === 0) return;
  writing = true;
  const batch = queue;
  queue = [];
  fs.write(fd, Buffer.concat(batch.map((b) => b.line)), (err) => {
    const done = (e) => {
      for (const b of batch) b.done(e);
      writing = false;
      flush();
    };
    if (err) done(err);
    else fs.fsync(fd, done);
  });
}

http
  .createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200);
      res.end('{"status":"ok"}');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const line = Buffer.concat([...chunks, Buffer.from('\n')]);
      queue.push({
        line,
        done: (err) => {
          res.writeHead(err ? 503 : 202);
          res.end();
        },
      });
      flush();
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
