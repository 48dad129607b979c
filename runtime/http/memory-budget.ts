// Admission control for request bodies: a process-wide budget of bytes that request bodies (and what is
// built from them) may hold at once. A request reserves its share before its body is read, from its
// Content-Length when it has one, or chunk by chunk as a body of unknown length streams in; a JSON body is
// charged again for the objects parsing it will create; everything is released when the response is done.
// When a reservation does not fit, the request is answered 503 with Retry-After at once, without reading its
// body: the caller (or Knative) retries later, or elsewhere, and the process stays within its memory.
//
// Why more than the body's bytes: parsing 1 MiB of small JSON objects creates up to ~21 MiB of JS objects
// (measured: `[{},{},…]` 21x, `[[],…]` 13x, `[{"a":1},…]` 5x, `[1,2,…]` 4x), so counting raw bytes alone let
// 100 concurrent 1 MiB requests take 1.09 GiB.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export interface MemoryBudget {
  readonly limitBytes: number;
  readonly heldBytes: number;
  /** Reserves for one request; the handle grows with its body and is released once. */
  admit(req: IncomingMessage, maxBodyBytes: number): Reservation;
}

export interface Reservation {
  readonly bytes: number;
  /** Reserves `bytes` more, or throws the 503. */
  grow(bytes: number): void;
  /** Gives back `bytes` of what was reserved, once it is known they will not be held (never below zero). */
  shrink(bytes: number): void;
  /** A function, not a method: passed as it is to the response's 'close' event. */
  readonly release: () => void;
}

/**
 * What a body costs while its request runs: the received bytes, one outgoing copy (the event forwarded or
 * the reply), and for JSON the parsed objects. Exported for tests and the documentation's arithmetic.
 */
export const bytesHeldPerBodyByte = 2;

/**
 * For a JSON body of known length, the parsed objects are prepaid at this many bytes per body byte when the
 * request is admitted (typical JSON: a 309-byte trade is estimated at 2.1x), and only what the body's
 * structure turns out to need beyond it is charged as it arrives. Without it, a burst of large bodies was
 * admitted on their raw size alone, and all of them were read and scanned before the charges refused most.
 */
export const jsonPrepaidPerBodyByte = 3;

/**
 * Memory the parsed JSON of `body` may take, from its structure: ≈64 bytes per object or array (an empty
 * `{}` is 3 bytes of text and 64 of heap), 16 per value separator, and the text once more for strings. An
 * upper bound for the shapes measured above. Additive, so it is computed per chunk as the body arrives (a
 * linear scan, 1-25 ms per MiB), never run on bodies that will not be parsed.
 */
export function parsedJsonEstimate(body: Uint8Array): number {
  let containers = 0;
  let separators = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (byte === 0x7b || byte === 0x5b)
      containers++; // { [
    else if (byte === 0x2c || byte === 0x3a) separators++; // , :
  }
  return containers * 64 + separators * 16 + body.length;
}

/** True when the body will be parsed as JSON: JSON, CloudEvents structured JSON, or no content type at all. */
export function parsedAsJson(contentType: string | undefined): boolean {
  return contentType === undefined || /json/i.test(contentType);
}

const overloaded = (limitBytes: number) =>
  new HttpError(
    503,
    'overloaded',
    `busy: request bodies in progress fill the memory budget of ${limitBytes} bytes (MEMORY_BUDGET_BYTES); try again shortly`,
  );

const tickets = new WeakMap<IncomingMessage, Reservation>();

/** The reservation app.ts made for this request, for readBody to grow (roles call readBody with the request only). */
export function reservationOf(req: IncomingMessage): Reservation | undefined {
  return tickets.get(req);
}

/** What the budget holds in all, and whether `bytes` more fit. */
class Ledger {
  held = 0;
  constructor(readonly limitBytes: number) {}
  take(bytes: number, already: number): void {
    // A request always fits when nothing else is held: a budget smaller than one large body must slow
    // requests down, never refuse one forever.
    if (this.held + bytes > this.limitBytes && this.held - already > 0) throw overloaded(this.limitBytes);
    this.held += bytes;
  }
}

/**
 * One request's share. A class, not an object literal: a literal with a getter (`bytes`) has its accessor
 * defined through V8's runtime each time one is made, ≈3,000 instructions a request (callgrind).
 */
class BodyReservation implements Reservation {
  private mine = 0;
  private released = false;
  constructor(private readonly ledger: Ledger) {}

  get bytes(): number {
    return this.mine;
  }

  grow(bytes: number): void {
    if (this.released || bytes <= 0) return;
    this.ledger.take(bytes, this.mine);
    this.mine += bytes;
  }

  shrink(bytes: number): void {
    const back = Math.min(this.mine, Math.max(0, bytes));
    if (this.released || back === 0) return;
    this.ledger.held -= back;
    this.mine -= back;
  }

  readonly release = (): void => {
    if (this.released) return;
    this.released = true;
    this.ledger.held -= this.mine;
    this.mine = 0;
  };
}

export function createMemoryBudget(limitBytes: number): MemoryBudget {
  const ledger = new Ledger(limitBytes);
  return {
    limitBytes,
    get heldBytes() {
      return ledger.held;
    },
    admit(req, maxBodyBytes) {
      const reservation = new BodyReservation(ledger);
      const declared = Number(req.headers['content-length']);
      // Over MAX_BODY_BYTES: the route answers 413 without reading; nothing to reserve.
      if (declared > 0 && declared <= maxBodyBytes) {
        reservation.grow(
          declared * (bytesHeldPerBodyByte + (parsedAsJson(req.headers['content-type']) ? jsonPrepaidPerBodyByte : 0)),
        );
      }
      tickets.set(req, reservation);
      return reservation;
    },
  };
}

/** Where the container's memory limit is found: cgroup v2, then v1. */
export const cgroupLimitFiles = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'] as const;

/** The container's memory limit in bytes, or undefined when there is none (or it cannot be read). */
export function containerMemoryLimit(readFile: (path: string) => string | undefined): number | undefined {
  for (const path of cgroupLimitFiles) {
    const text = readFile(path)?.trim();
    if (text === undefined || text === '') continue;
    if (text === 'max') return undefined;
    const bytes = Number(text);
    // cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages).
    if (Number.isSafeInteger(bytes) && bytes > 0 && bytes < 2 ** 50) return bytes;
    return undefined;
  }
  return undefined;
}

/** Memory the runtime needs besides request bodies: Node, the bundle, metrics, logs (idle RSS is ~51 MiB). */
export const baselineBytes = 96 * 1024 * 1024;
/** Used when no container limit can be read (a developer's machine). */
export const budgetWithoutLimitBytes = 256 * 1024 * 1024;
const minimumBudgetBytes = 16 * 1024 * 1024;

/**
 * The default budget: half of what the container limit leaves after the baseline. The other half is for
 * what the budget cannot see: garbage from finished requests that the collector has not reclaimed yet, and
 * V8's heap growing ahead of use. 384 MiB (values/prod.yaml) → 144 MiB; 256 MiB (chart default) → 80 MiB.
 */
export function defaultMemoryBudget(limitBytes: number | undefined): number {
  if (limitBytes === undefined) return budgetWithoutLimitBytes;
  return Math.max(minimumBudgetBytes, Math.floor((limitBytes - baselineBytes) / 2));
}
