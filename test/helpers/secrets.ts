// Helpers for the Vault tests: run the bundle until it exits, and check that no secret value appears in
// anything the process printed or served. Waiting for a condition: test/helpers/wait.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { bundlePath, freePort } from './bundle.js';

export interface ExitedBundle {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
  /** /readyz statuses seen while it ran (polled). */
  readonly readiness: number[];
}

/** Runs the bundle until it exits (or kills it after timeoutMs), polling /readyz meanwhile. */
export async function runBundleToExit(env: Record<string, string>, timeoutMs = 10_000): Promise<ExitedBundle> {
  const port = await freePort();
  const child = spawn(process.execPath, [bundlePath], {
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const readiness: number[] = [];
  let done = false;
  void exited.then(() => (done = true));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  while (!done) {
    try {
      readiness.push((await fetch(`http://127.0.0.1:${port}/readyz`)).status);
    } catch {
      // not listening (yet, or any more)
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  clearTimeout(killer);
  return { code: await exited, stdout, stderr, readiness };
}

/** Fails naming which secret leaked (by index, not value) into which output. */
export function assertNoSecrets(outputs: Record<string, string>, secrets: readonly string[]): void {
  for (const [where, text] of Object.entries(outputs)) {
    secrets.forEach((secret, i) => {
      assert.ok(secret.length >= 8, 'a secret used for a leak check must be long enough not to match by chance');
      assert.ok(!text.includes(secret), `secret #${i} appears in ${where}`);
    });
  }
}

export async function postEvent(url: string, id: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': 'com.example.test',
      'ce-source': '/test',
    },
    body: JSON.stringify({ n: id }),
  });
}
