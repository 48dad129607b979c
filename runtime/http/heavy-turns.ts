// Paces the synchronous work large bodies cause. Once its body is read, a request parses, validates and
// serialises it without yielding: 1 MiB of small JSON objects is 20-250 ms of JSON.parse alone (a quiet and a
// busy 2-core machine), and several finishing at once kept /healthz waiting for seconds. Large bodies go
// one at a time, and after each the loop is left free for as long as that one took (its time, measured up
// to the next turn of the loop), so probes and small requests are answered between two: the large-body work
// gets at most about half of the loop's time while others wait, and runs at once when alone. Work that can
// be cut into slices (validating a large body) goes through the turn queue (turn-queue.ts) instead.

/** Bodies from this size on are paced; smaller ones cost too little to matter. */
export const heavyBodyBytes = 64 * 1024;
/** Longest pause between two large bodies, whatever the last one took. */
const maxPauseMs = 1000;

import { acceptedConnections } from './accepted-connections.js';

export type TakeTurn = () => Promise<void>;

export function createHeavyTurns(): TakeTurn {
  const waiting: Array<() => void> = [];
  let running = false;
  const next = () => {
    const go = waiting.shift();
    if (!go) {
      running = false;
      return;
    }
    const started = performance.now();
    // Its work runs in the microtasks right after this callback; setImmediate fires on the next turn, after it.
    go();
    setImmediate(() => setTimeout(next, Math.min(maxPauseMs, performance.now() - started)));
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!running) {
        running = true;
        next();
      }
    });
}

/** The process's pacing: one queue for every request, whatever the role. */
export const takeHeavyTurn = createHeavyTurns();

/** Body bytes all requests together may take in from their sockets in one turn of the event loop. */
export const intakeBytesPerTurn = 512 * 1024;
/** What a reader brings when resumed before it can pause again: about one socket read. */
const readBytes = 64 * 1024;

export interface Intake {
  /** Counts `bytes` just taken in; false once the turn's allowance is spent: the reader pauses and waits. */
  take(bytes: number): boolean;
  /** Whether a reader about to start may read in this turn; if not it starts paused and waits (see wait). */
  hasRoom(): boolean;
  /** Calls `resume` in a later turn, after the readers that waited before it, as the allowance allows. */
  wait(resume: () => void): void;
}

/**
 * Paces reading request bodies: the sockets of 70 admitted requests with 1 MiB each were read in the same
 * turns, and each read fills fresh memory (≈15 ms per MiB on a sandboxed machine), so the turns of the
 * opening burst lasted 60-100 ms. Past the turn's allowance a reader pauses (its socket stops being read)
 * and is resumed in a later turn, in order, as many per turn as the allowance covers. While the server is
 * accepting connections (see accepted-connections.ts) the allowance is one read: one reader resumed, and the
 * readers already flowing pause after one read between them (with 512 KiB of JSON read and scanned in each, the
 * turns of an opening burst took ~2 ms, and a probe waited 370 ms behind 200 connections to be accepted).
 */
export function createIntake(
  bytesPerTurn = intakeBytesPerTurn,
  connectionsArrived: () => boolean = acceptedConnections.watcher(),
): Intake {
  let used = 0;
  // What readers may take until the next turn: one read's worth while connections are being accepted (the
  // kernel's accept queue likely holds more), so those turns stay short for the body reads made in them too.
  let allowance = bytesPerTurn;
  let scheduled = false;
  const waiting: Array<() => void> = [];
  const turn = () => {
    scheduled = false;
    used = 0;
    allowance = connectionsArrived() ? readBytes : bytesPerTurn;
    for (let room = allowance; room > 0 && waiting.length > 0; room -= readBytes) (waiting.shift() as () => void)();
    if (waiting.length > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(turn);
  };
  return {
    take(bytes) {
      used += bytes;
      schedule();
      return used <= allowance;
    },
    hasRoom() {
      return used < allowance && waiting.length === 0;
    },
    wait(resume) {
      waiting.push(resume);
      schedule();
    },
  };
}

/** Stops `reader` until the intake's turn for it comes, then lets it read on unless it is `finished()` by then. */
export function holdForIntake(
  intake: Intake,
  reader: { pause(): unknown; resume(): unknown },
  finished: () => boolean,
): void {
  reader.pause();
  intake.wait(() => {
    if (!finished()) reader.resume();
  });
}

/** The process's intake: one allowance for every request body, whatever the role. */
export const bodyIntake = createIntake();
