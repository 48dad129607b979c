// Starts a role in-process on a loopback port (port 0) from an env map, through the same parseConfig and
// assemble() that main.ts uses, with the build's function registry as main.ts passes it, and logs captured for
// assertions. For the bundled file, see bundle.ts.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { functionLoaders, functionNames } from '../../functions/index.js';
import { assemble, type AssembleIo, type Assembled } from '../../runtime/assemble.js';
import { parseConfig, type RuntimeConfig } from '../../runtime/config.js';
import { functionRegistry } from '../../runtime/function-registry.js';
import { createLogger } from '../../runtime/logger.js';
import { drain, listen } from '../../runtime/server.js';

export interface RunningRuntime extends Assembled {
  readonly url: string;
  readonly config: RuntimeConfig;
  readonly server: Server;
  /** Every log line written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** Drain as SIGTERM would, then close. */
  stop(timeoutMs?: number): Promise<{ abandoned: number }>;
}

export async function startRuntime(env: Record<string, string>, io: Partial<AssembleIo> = {}): Promise<RunningRuntime> {
  const functions = io.functions ?? functionRegistry(functionNames, functionLoaders);
  const config = parseConfig({ PORT: '1', LOG_LEVEL: 'debug', ...env }, io.secrets, functions.names);
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log = io.log ?? createLogger({ level: config.logLevel, base: { role: config.role }, destination });
  const assembled = await assemble(config, { env, functions, ...io, log });
  const server = await listen(assembled.app, { port: 0, host: '127.0.0.1' });
  assembled.lifecycle.markReady();
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<{ abandoned: number }> | undefined;
  return {
    ...assembled,
    url: `http://127.0.0.1:${port}/`,
    config,
    server,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stop(timeoutMs = 5000) {
      stopped ??= drain(server, assembled.lifecycle, timeoutMs).then(async (result) => {
        await assembled.close();
        return result;
      });
      return stopped;
    },
  };
}
