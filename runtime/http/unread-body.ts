// A request answered before its body was all read (refused for memory before reading, or half-way through;
// a bad body found early): the rest of the body is read and thrown away, so that the caller, usually still
// sending it, gets the answer. Closing a connection with unread bytes makes the kernel reset it (RST): a
// caller still writing then sees EPIPE or ECONNRESET instead of the 503 it would retry after Retry-After, and
// Knative's queue-proxy reports a connection error. Discarding holds no memory (each chunk is garbage at
// once) and keeps the connection for the caller's next request. It is bounded: past `maxBytes` more, what
// no admitted body could be, the connection is closed.
//
// Discarding is paced like reading a body (heavy-turns.ts, the intake): it costs the same per byte (a socket
// read, the parser, a chunk), and refused callers retry together after `Retry-After: 1`, so unpaced, the turns
// of such a wave read their whole 1 MiB bodies at once while probes' connections waited to be accepted.
import type { IncomingMessage } from 'node:http';
import { bodyIntake, holdForIntake, type Intake } from './heavy-turns.js';

export function discardUnreadBody(req: IncomingMessage, maxBytes: number, intake: Intake = bodyIntake): void {
  if (req.complete || req.destroyed) return;
  let discarded = 0;
  const finished = () => req.complete || req.destroyed;
  // The body reader's own listener is gone once it gave up; nothing else reads a request body.
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) {
      req.socket.destroy();
      return;
    }
    if (!intake.take(chunk.length)) holdForIntake(intake, req, finished);
  });
  // A wave of refused requests would otherwise all start reading in the same turn, a chunk each at least.
  if (intake.hasRoom()) req.resume();
  else holdForIntake(intake, req, finished);
}
