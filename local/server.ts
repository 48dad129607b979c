// A small loopback HTTP server for the runner's own ingresses (broker, KafkaSink): request body read with a
// limit, JSON answers, and "port in use" turned into a one-line error that says what to do.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RunnerError } from './errors.js';

export const maxBodyBytes = 10 * 1024 * 1024;

export type Handler = (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body?: unknown }>;

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

export function readBody(req: IncomingMessage, limit = maxBodyBytes): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startServer(what: string, host: string, port: number, handler: Handler): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    readBody(req)
      .then(async (body) => {
        if (body === undefined)
          return answer(res, 413, { error: 'payload_too_large', message: `the body exceeds ${maxBodyBytes} bytes` });
        const out = await handler(req, body);
        answer(res, out.status, out.body);
      })
      .catch((err: unknown) => answer(res, 500, { error: 'internal', message: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new RunnerError(
            `port ${port} (${what}) is already in use: stop what listens there, or start on other ports with --port <first port> (0 = any free ports)`,
          ),
        );
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
