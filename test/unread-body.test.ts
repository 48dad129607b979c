// Reading a refused body through (runtime/http/unread-body.ts) on a real server on loopback: the caller gets the
// answer and keeps its connection, and the discarding is paced by the intake it is given: once the turn's
// allowance is spent the socket is no longer read until the intake resumes it.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Intake } from '../runtime/http/heavy-turns.js';
import { discardUnreadBody } from '../runtime/http/unread-body.js';
import { waitFor } from './helpers/wait.js';

/** An intake that allows `allowance` bytes, then keeps the resumes it is given until the test calls them. */
function heldIntake(allowance: number) {
  let taken = 0;
  const held: Array<() => void> = [];
  const intake: Intake = {
    take(bytes) {
      taken += bytes;
      return taken <= allowance;
    },
    hasRoom: () => taken < allowance && held.length === 0,
    wait(resume) {
      held.push(resume);
    },
  };
  return {
    intake,
    taken: () => taken,
    held,
    release() {
      taken = 0;
      allowance = Infinity;
      for (const resume of held.splice(0)) resume();
    },
  };
}

test('a refused body is read through at the pace of the intake, and the caller keeps its connection', async () => {
  const bodyBytes = 4 * 1024 * 1024;
  const pacing = heldIntake(256 * 1024);
  let request: IncomingMessage | undefined;
  const server = createServer((req, res) => {
    request = req;
    res.writeHead(503, { 'retry-after': '1', 'content-length': '0' }).end();
    discardUnreadBody(req, bodyBytes, pacing.intake);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  let answers = '';
  socket.on('data', (chunk: Buffer) => (answers += chunk.toString('latin1')));
  try {
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    // The caller is held up when the kernel's buffers between it and a server that stopped reading are full.
    let heldUp = false;
    const writeMore = () => {
      heldUp = false;
      while (written < bodyBytes) {
        written += chunk.length;
        if (!socket.write(chunk)) {
          heldUp = true;
          return socket.once('drain', writeMore);
        }
      }
    };
    writeMore();
    await waitFor(() => pacing.held.length > 0, 10_000, { what: 'the discarding to wait for the intake' });
    assert.match(answers, /^HTTP\/1\.1 503 /, 'answered before the body was read');
    // While the intake holds it, the socket is not read: the caller ends up held up with most of its 4 MiB body
    // unsent (the kernel's buffers take a few hundred KiB on loopback), and what was discarded stays put.
    const discardedWhenHeld = pacing.taken();
    await waitFor(() => heldUp && written < bodyBytes, 10_000, { what: 'the caller held up by the unread socket' });
    assert.equal(pacing.taken(), discardedWhenHeld, 'nothing more read while the intake holds it');
    assert.ok(discardedWhenHeld < bodyBytes, `only part of the body read so far (${discardedWhenHeld} bytes)`);
    assert.equal(request?.complete, false);
    pacing.release();
    await waitFor(() => request?.complete === true, 10_000, { what: 'the whole body read through' });
    socket.write('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => answers.split('HTTP/1.1 503').length === 3, 10_000, { what: 'the second answer' });
    assert.equal(socket.destroyed, false, 'the connection was kept');
  } finally {
    socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
