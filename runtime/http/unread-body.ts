// A request answered before its body was all read (refused for memory before reading, or half-way through;
// a bad body found early): the rest of the body is read and thrown away, so that the caller, usually still
// sending it, gets the answer. Closing a connection with unread bytes makes the kernel reset it (RST): a
// caller still writing then sees EPIPE or ECONNRESET instead of the 503 it would retry after Retry-After, and
// Knative's queue-proxy reports a connection error. Discarding holds no memory (each chunk is garbage at
// once) and keeps the connection for the caller's next request. It is bounded: past `maxBytes` more, what
// no admitted body could be, the connection is closed.
import type { IncomingMessage } from 'node:http';

export function discardUnreadBody(req: IncomingMessage, maxBytes: number): void {
  if (req.complete || req.destroyed) return;
  let discarded = 0;
  // The body reader's own listener is gone once it gave up; nothing else reads a request body.
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) req.socket.destroy();
  });
  req.resume();
}
