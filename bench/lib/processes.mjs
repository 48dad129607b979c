// Starting a server, timing it to its first successful answer, reading its memory, stopping it.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createServer } from 'node:net';

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * One request, on a fresh connection unless an `agent` is given (a keep-alive agent reuses its sockets);
 * resolves with status and body, rejects on a connection error.
 */
export function request(
  port,
  { method = 'POST', path = '/', headers = {}, body = '', agent = /** @type {http.Agent | false} */ (false) } = {},
) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        agent,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts a target and sends `probe` until it answers 2xx. Returns the process, the milliseconds from spawn
 * to the end of that first successful answer (the cold start as a caller sees it) and the CPU time the
 * process had used by then (steadier than wall time when other work shares the machine).
 */
export async function startTimed(target, probe, { timeoutMs = 20_000 } = {}) {
  const port = await freePort();
  const { cmd, args, env } = target.command(port);
  let stderr = '';
  const started = performance.now();
  const child = spawn(cmd, args, { env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (c) => (stderr += c));
  let exited = false;
  child.once('exit', () => (exited = true));
  // A file that cannot be run (missing, not executable, being rewritten by a build) fails the spawn itself.
  child.once('error', (err) => {
    exited = true;
    stderr += `${err.message}\n`;
  });
  for (;;) {
    if (exited) throw new Error(`${target.label} exited during start-up: ${stderr}`);
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${target.label} gave no successful answer within ${timeoutMs} ms: ${stderr}`);
    }
    try {
      const answer = await request(port, probe);
      if (answer.status >= 200 && answer.status < 300) {
        const coldStartMs = performance.now() - started;
        return { child, port, coldStartMs, startCpuMs: cpuMsOf(child.pid), firstAnswer: answer };
      }
      throw new Error(`${target.label} answered ${answer.status}: ${answer.body}`);
    } catch (err) {
      const code = /** @type {NodeJS.ErrnoException} */ (err).code;
      if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET') {
        child.kill('SIGKILL');
        throw err;
      }
      // Not listening yet: poll again almost at once, so the poll interval adds little to the figure.
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

/** Resident set size now and at its peak (VmHWM), in MiB, from /proc. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS, so the next memoryOf().peakMiB is the peak of
 * what came after (Linux ≥ 4.0: `5` to /proc/<pid>/clear_refs). False where that is not allowed: the peak
 * then also covers everything before.
 */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function stop(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve(undefined);
    });
    child.kill(signal);
  });
}

/** CPU time (user + system) the process has used so far, in milliseconds, from /proc/<pid>/stat. */
export function cpuMsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux Node supports
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}
