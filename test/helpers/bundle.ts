// Runs the built bundle (dist/knative-events.cjs) as a child process on a free loopback port and waits for
// it to answer /healthz. Tests that need the real process (signals, exit codes, stdout) use this.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

export const bundlePath = fileURLToPath(new URL('../../dist/knative-events.cjs', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface BundleProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export async function startBundle(
  env: Record<string, string>,
  options: { cwd?: string; command?: string[]; timeoutMs?: number } = {},
): Promise<BundleProcess> {
  if (!options.command && !existsSync(bundlePath))
    throw new Error('dist/knative-events.cjs is missing: run `npm run build` first');
  const port = Number(env.PORT ?? (await freePort()));
  const [cmd, ...args] = options.command ?? [process.execPath, bundlePath];
  const child = spawn(cmd as string, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = `http://127.0.0.1:${port}/`;
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const healthy = async () => {
    if (exitedEarly) throw new Error(`the runtime exited during start-up: ${err || out}`);
    // not listening yet: a refused connection is "not yet"
    return (await fetch(`${url}healthz`).catch(() => undefined))?.status === 200;
  };
  try {
    await waitFor(healthy, options.timeoutMs ?? 10_000, {
      what: 'the runtime to answer /healthz',
      intervalMs: 20,
      errors: 'throw',
      context: () => err || out,
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, url, port, stdout: () => out, stderr: () => err, exited };
}

/**
 * A binary-mode CloudEvent as `fetch` options: JSON data, `ce-id` the given id, `ce-type` the given type, any more
 * `ce-` headers as given (the bundle tests post the same event shape to each role they start).
 */
export function binaryEvent(
  id: string,
  type: string,
  data: unknown = { id },
  extraHeaders: Record<string, string> = {},
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/test',
      'ce-type': type,
      ...extraHeaders,
    },
    body: JSON.stringify(data),
  };
}
