// A POST over node:http for tests that send hundreds of requests: fetch (undici) costs about four times the CPU
// per request on loopback (2.3 ms against 0.55 ms, client and server together, measured with 3000 POSTs), which
// in a load test is most of the file's time. Keep-alive sockets (Node's global agent), like fetch's pool; a
// connection that dies (the server killed) rejects, as fetch does.
import { request } from 'node:http';

export interface LightResponse {
  readonly status: number;
  readonly text: string;
  /** A response header (lower-case name), or null. */
  header(name: string): string | null;
}

export function lightPost(
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
  signal?: AbortSignal,
): Promise<LightResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: 'POST', headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          header: (name) => {
            const value = res.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
