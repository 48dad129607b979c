// Reads a request body into a Buffer, bounded: a Content-Length over the limit is refused before reading,
// a body that grows past it is cut off. Either way the answer is 413 with the error envelope. Memory
// admission (memory-budget.ts): a body of unknown length is charged to its request's reservation as it
// streams in, and a body that will be parsed as JSON is charged for its parsed objects chunk by chunk (the
// scan's cost spread over the chunks' callbacks, never one long pause; a body its role will only validate is
// not: ReadBodyOptions); either can end in 503 when the budget is full. A large body is joined from its
// chunks in the turn queue's turns (turn-queue.ts) and handed over in its heavy turn (heavy-turns.ts), so
// neither the copying nor the work it causes keeps health probes waiting.
// Hand-written rather than raw-body: raw-body pulls iconv-lite's code-page tables (~500 KiB) into the
// bundle for a decoding step we never use, and the bundle's size is paid on every cold start.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { bodyIntake, heavyBodyBytes, holdForIntake, takeHeavyTurn } from './heavy-turns.js';
import { turnQueue, type RunInSlices } from './turn-queue.js';
import {
  bytesHeldPerBodyByte,
  jsonPrepaidPerBodyByte,
  parsedAsJson,
  parsedJsonEstimate,
  reservationOf,
} from './memory-budget.js';

function tooLarge(limitBytes: number): HttpError {
  return new HttpError(
    413,
    'payload_too_large',
    `request body is larger than the limit of ${limitBytes} bytes (MAX_BODY_BYTES)`,
  );
}

export interface ReadBodyOptions {
  /**
   * True when a JSON body with these headers and this many bytes will only be validated, never parsed into
   * objects (the handler's large binary-mode and legacy bodies: json-validate.ts). It is then charged for what
   * is really held, its bytes and one outgoing copy, not for the objects a parse would create: that estimate
   * was up to 13x the body for small objects and let only ≈10 such bodies in at once.
   */
  readonly jsonUnparsed?: (headers: IncomingHttpHeaders, bodyBytes: number) => boolean;
}

export async function readBody(
  req: IncomingMessage,
  limitBytes: number,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const charge = bodyCharge(req, options);
  const { chunks, length } = await readBounded(req, limitBytes, charge);
  // A body below heavyBodyBytes is joined at once: no await (no extra turn of the microtask queue) for it.
  const body = length < heavyBodyBytes ? joinedAtOnce(chunks, length) : await joined(chunks, length);
  charge.done(body);
  if (body.length >= heavyBodyBytes) await takeHeavyTurn();
  return body;
}

/** A body's charges to its request's memory reservation, as it streams in. */
interface BodyCharge {
  /** Charges one chunk; throws (503) when the budget cannot grow. */
  chunk(chunk: Buffer): void;
  /** Once the whole body is in: gives back the parsed-objects charge when it will not be parsed after all. */
  done(body: Buffer): void;
}

const noCharge: BodyCharge = { chunk: () => {}, done: () => {} };

/**
 * What a chunk costs: its bytes when the length was not declared (a declared length was reserved up front),
 * and for a body parsed as JSON the estimate of its parsed objects beyond what admission prepaid. A body
 * declared as one that will only be validated gets the prepaid estimate back before a byte is read.
 */
function bodyCharge(req: IncomingMessage, options: ReadBodyOptions): BodyCharge {
  const reservation = reservationOf(req);
  if (reservation === undefined) return noCharge;
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  const perByte = declared === undefined ? bytesHeldPerBodyByte : 0;
  const unparsed = (bytes: number) => options.jsonUnparsed?.(req.headers, bytes) === true;
  let json = parsedAsJson(req.headers['content-type']);
  // What admission prepaid for the parsed objects (known length only); charged: the estimate beyond it.
  const prepaid = json && declared !== undefined ? declared * jsonPrepaidPerBodyByte : 0;
  if (json && declared !== undefined && unparsed(declared)) {
    reservation.shrink(prepaid);
    json = false;
  }
  let estimated = 0;
  let charged = 0;
  return {
    chunk(chunk) {
      let more = chunk.length * perByte;
      if (json) {
        estimated += parsedJsonEstimate(chunk);
        const beyond = Math.max(0, estimated - prepaid - charged);
        charged += beyond;
        more += beyond;
      }
      reservation.grow(more);
    },
    done(body) {
      // A body of unknown length learns only now that it is one to be validated only.
      if (json && unparsed(body.length)) reservation.shrink(prepaid + charged);
    },
  };
}

/**
 * The chunks as one buffer. A large body is copied a chunk at a time in the turn queue's turns, with its
 * validation: the copy's cost is first touching fresh memory, which on a sandboxed machine is ≈15 ms per MiB
 * (0.5 ms into memory touched before), and 70 bodies of 1 MiB whose last bytes came in the same turn of the
 * loop made it one 95 ms pause (Buffer.concat at the end), and 100-200 ms ones copied as the chunks came.
 */
async function joined(chunks: Buffer[], length: number, slices: RunInSlices = turnQueue.run): Promise<Buffer> {
  if (chunks.length === 1 || length < heavyBodyBytes) return joinedAtOnce(chunks, length);
  const body = Buffer.allocUnsafeSlow(length);
  let next = 0;
  let at = 0;
  await slices(() => {
    const chunk = chunks[next] as Buffer;
    // Let go of each chunk once copied: what the socket read is garbage from then on.
    chunks[next++] = noBytes;
    at += chunk.copy(body, at);
    return next === chunks.length;
  });
  return body;
}

/** A body as one buffer, in one go: the only chunk as it is, or the chunks copied into one. */
const joinedAtOnce = (chunks: Buffer[], length: number): Buffer =>
  chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);

const noBytes = Buffer.alloc(0);

/** The body's chunks as they came, its Content-Length checked. */
interface Received {
  readonly chunks: Buffer[];
  readonly length: number;
}

/** Pauses the request once the turn's intake allowance is spent (heavy-turns.ts), to resume in a later turn. */
function paceIntake(req: IncomingMessage, bytes: number, finished: () => boolean): void {
  if (!bodyIntake.take(bytes)) holdForIntake(bodyIntake, req, finished);
}

function readBounded(req: IncomingMessage, limitBytes: number, charge: BodyCharge): Promise<Received> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    // Don't read what we will refuse; pause so the socket is not drained into memory.
    req.pause();
    return Promise.reject(tooLarge(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let finished = false;
    const cleanup = () => {
      finished = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const stop = (err: Error) => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) return stop(tooLarge(limitBytes));
      try {
        charge.chunk(chunk);
      } catch (err) {
        return stop(err instanceof Error ? err : new Error(String(err)));
      }
      chunks.push(chunk);
      paceIntake(req, chunk.length, () => finished);
    };
    const onEnd = () => {
      cleanup();
      if (declared !== undefined && Number(declared) !== received) {
        reject(new HttpError(400, 'bad_request', 'request body does not match its Content-Length'));
        return;
      }
      resolve({ chunks, length: received });
    };
    const onAborted = () => {
      cleanup();
      reject(new HttpError(400, 'bad_request', 'the client aborted the request'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new HttpError(400, 'bad_request', 'could not read the request body', { cause: err }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    // Requests started in the same turn would each read (and scan) a chunk at once: they start in their turn.
    if (!bodyIntake.hasRoom()) holdForIntake(bodyIntake, req, () => finished);
  });
}
