// Baseline for the PostgreSQL store's throughput: a bare node:http server that INSERTs each request's body
// into a table with no index but its primary key, through a pg pool of the same size as the dlq's, and
// answers 202 after the commit. The cost of the database round trip alone.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, like the bundle */
'use strict';
const http = require('node:http');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 5) });
pool.on('error', () => {});

pool.query('CREATE TABLE IF NOT EXISTS baseline (seq bigserial PRIMARY KEY, body text NOT NULL)').then(() => {
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
        pool.query('INSERT INTO baseline (body) VALUES ($1)', [Buffer.concat(chunks).toString('utf8')]).then(
          () => {
            res.writeHead(202);
            res.end();
          },
          () => {
            res.writeHead(503);
            res.end();
          },
        );
      });
    })
    .listen(Number(process.env.PORT), '127.0.0.1');
});
