// How many request headers a request may have. Node keeps only `maxHeadersCount` headers and drops the rest
// without a word, so an event with 250 ce- headers lost 56 of its extensions, and a ce-type after 210 other
// headers went missing. The server keeps one more than the limit (server.ts), which makes "too many" visible
// here, and such a request is refused with 431 instead of being handled with headers missing. The bytes of
// all headers are bounded separately (16 KiB, server.ts).
import { HttpError } from './errors.js';

export const maxRequestHeaders = 256;

/** Throws 431 when the request has more headers than the limit (rawHeaders holds name, value pairs). */
export function checkHeaderCount(rawHeaders: readonly string[]): void {
  if (rawHeaders.length / 2 > maxRequestHeaders) {
    throw new HttpError(
      431,
      'too_many_headers',
      `the request has more than ${maxRequestHeaders} headers; send fewer (CloudEvent extensions included)`,
    );
  }
}
