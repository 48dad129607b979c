// Reads a request body into a Buffer, bounded: a Content-Length over the limit is refused before reading,
// a body that grows past it is cut off. Either way the answer is 413 with the error envelope.
// Hand-written rather than raw-body: raw-body pulls iconv-lite's code-page tables (~500 KiB) into the
// bundle for a decoding step we never use, and the bundle's size is paid on every cold start.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

function tooLarge(limitBytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `request body is larger than the limit of ${limitBytes} bytes (MAX_BODY_BYTES)`);
}

export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    // Don't read what we will refuse; pause so the socket is not drained into memory.
    req.pause();
    return Promise.reject(tooLarge(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (declared !== undefined && Number(declared) !== received) {
        reject(new HttpError(400, 'bad_request', 'request body does not match its Content-Length'));
        return;
      }
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
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
  });
}
