// Tells the schedulers of request work (turn-queue.ts, heavy-turns.ts) that connections are arriving, so that
// they keep the loop's turns short until the kernel's accept queue is empty.
//
// Why: libuv (1.45 on, so Node 20) accepts ONE connection per turn of the event loop. A probe's new connection
// waits in the kernel's accept queue behind every connection that arrived before it, one whole turn each. Under
// overload, refused callers reconnect together after `Retry-After: 1`; with 40-100 connections queued and turns
// of 5-15 ms (the queue's 4 ms of request starts, 512 KiB of body reading, GC), /healthz waited 300-500 ms in
// the accept queue while the loop itself never stalled for more than 60 ms (seen with tcpdump and accept4
// tracepoints). A turn that accepted a connection is therefore kept to the minimum of queued work, so the next
// connection is accepted soon after; the work waits a fraction of a millisecond per connection, and a flood
// of connections still lets one unit of work through per turn.

export interface AcceptedConnections {
  /** Counts a connection the server has just accepted (its 'connection' event). */
  note(): void;
  /** A watcher for one scheduler: each call says whether a connection was accepted since its previous call. */
  watcher(): () => boolean;
}

export function createAcceptedConnections(): AcceptedConnections {
  let accepted = 0;
  return {
    note() {
      accepted++;
    },
    watcher() {
      let seen = accepted;
      return () => {
        const arrived = accepted !== seen;
        seen = accepted;
        return arrived;
      };
    },
  };
}

/** The process's count, fed by every server it listens with (server.ts). */
export const acceptedConnections = createAcceptedConnections();
