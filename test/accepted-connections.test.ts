// The count of accepted connections (runtime/http/accepted-connections.ts) that keeps the schedulers' turns short
// while the kernel's accept queue holds connections: each watcher sees each arrival once, and a real server
// (runtime/server.ts listen) feeds the process's count from its 'connection' events.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import Koa from 'koa';
import { acceptedConnections, createAcceptedConnections } from '../runtime/http/accepted-connections.js';
import { listen } from '../runtime/server.js';
import { waitFor } from './helpers/wait.js';

test('each watcher says once that connections arrived since it last asked, whatever the others asked', () => {
  const accepted = createAcceptedConnections();
  const queue = accepted.watcher();
  const intake = accepted.watcher();
  assert.equal(queue(), false, 'nothing accepted yet');
  accepted.note();
  accepted.note();
  assert.equal(queue(), true);
  assert.equal(queue(), false, 'already told');
  assert.equal(intake(), true, 'the other watcher has not been told yet');
  accepted.note();
  assert.equal(queue(), true);
  assert.equal(intake(), true);
});

test('a server made by listen() counts every connection it accepts', async () => {
  const server = await listen(new Koa(), { port: 0, host: '127.0.0.1' });
  const arrived = acceptedConnections.watcher();
  try {
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const socket = connect(address.port, '127.0.0.1');
    await waitFor(() => arrived(), 5000, {
      what: 'the connection counted',
    });
    socket.destroy();
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
