// The outbound HTTP client: one keep-alive agent per process, so forwarding to the broker or a KafkaSink
// reuses connections. Built on node:http rather than undici: the undici package adds ~1 MiB to the bundle
// (fetch, websockets, caches we don't use), paid on every cold start. Passed in as `HttpPoster` so tests
// can swap it.
import http from 'node:http';
import https from 'node:https';

export interface PostResult {
  readonly status: number;
  /** The start of the response body, for logs and dead-letter diagnostics. */
  readonly body: string;
}

export interface HttpPoster {
  post(url: string, headers: Record<string, string>, body: string | Buffer, timeoutMs: number): Promise<PostResult>;
  close(): Promise<void>;
}

/** A timeout is reported with this code so the sender can tell it from a connection failure. */
export const timeoutCode = 'ETIMEDOUT_RESPONSE';
const maxBodyKept = 1024;

export function createHttpPoster(options: { maxSockets?: number } = {}): HttpPoster {
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: options.maxSockets ?? 256,
    maxFreeSockets: 64,
    scheduling: 'lifo' as const,
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  return {
    post(url, headers, body, timeoutMs) {
      return new Promise((resolve, reject) => {
        const target = new URL(url);
        const isHttps = target.protocol === 'https:';
        const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
        const req = (isHttps ? https : http).request(
          target,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': String(length) },
            agent: isHttps ? httpsAgent : httpAgent,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let kept = 0;
            res.on('data', (chunk: Buffer) => {
              if (kept < maxBodyKept) {
                chunks.push(chunk);
                kept += chunk.length;
              }
            });
            res.on('end', () => {
              clearTimeout(timer);
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8').slice(0, maxBodyKept),
              });
            });
            res.on('error', (err) => {
              clearTimeout(timer);
              reject(err);
            });
          },
        );
        // One deadline for the whole exchange: connect, send, and the full response.
        const timer = setTimeout(() => {
          const err = Object.assign(new Error(`no complete answer within ${timeoutMs} ms`), { code: timeoutCode });
          req.destroy(err);
        }, timeoutMs);
        req.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        req.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
      return Promise.resolve();
    },
  };
}
