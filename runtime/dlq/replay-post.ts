// One POST of a replayed event to its target, over kept-alive connections: its answer (status, headers, the
// body up to maxReplyBytes: a larger one is a 502) or why there was none (a connection error, or no answer
// within the timeout). Never rejects: replay-delivery.ts decides what to retry.
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export type Attempt = { kind: 'answer'; answer: Answer } | { kind: 'no-answer'; message: string; timeout: boolean };

export interface Poster {
  post(url: string, headers: Record<string, string>, body: Buffer): Promise<Attempt>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/** The answer's body, cut off past maxReplyBytes (then a 502 that says so). */
function readAnswer(res: http.IncomingMessage, maxReplyBytes: number, done: (attempt: Attempt) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= maxReplyBytes) chunks.push(chunk);
  });
  res.on('end', () => {
    const answer =
      size > maxReplyBytes
        ? { status: 502, headers: {}, body: Buffer.from(`reply larger than ${maxReplyBytes} bytes`) }
        : { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
    done({ kind: 'answer', answer });
  });
  res.on('error', (err) => done({ kind: 'no-answer', message: err.message, timeout: false }));
}

export function createPoster(limits: { readonly timeoutMs: number; readonly maxReplyBytes: number }): Poster {
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 64, maxFreeSockets: 16 };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  return {
    post(url, headers, body) {
      return new Promise((resolve) => {
        const target = new URL(url);
        const isHttps = target.protocol === 'https:';
        const req = (isHttps ? https : http).request(
          target,
          {
            method: 'POST',
            headers: { ...headers, prefer: 'reply', 'content-length': String(body.length) },
            agent: isHttps ? httpsAgent : httpAgent,
          },
          (res) =>
            readAnswer(res, limits.maxReplyBytes, (attempt) => {
              clearTimeout(timer);
              resolve(attempt);
            }),
        );
        const timer = setTimeout(() => {
          req.destroy();
          resolve({ kind: 'no-answer', message: `no answer within ${limits.timeoutMs} ms`, timeout: true });
        }, limits.timeoutMs);
        req.on('error', (err) => {
          clearTimeout(timer);
          resolve({ kind: 'no-answer', message: (err as NodeJS.ErrnoException).code ?? err.message, timeout: false });
        });
        req.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
