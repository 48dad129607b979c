// The process's edges only: environment → secrets → config → assemble() (where dependencies meet) → listen →
// drain on SIGTERM. The one file that imports the generated function registry: it hands it to the runtime.
import { functionLoaders, functionNames } from '../functions/index.js';
import type { Server } from 'node:http';
import type Koa from 'koa';
import { assemble, type Assembled } from './assemble.js';
import { ConfigError, parseBootConfig, parseConfig, type BootConfig, type RuntimeConfig } from './config.js';
import { functionRegistry } from './function-registry.js';
import { listenWhileStarting, type StartingServer } from './listen-while-starting.js';
import { createLogger, type Logger } from './logger.js';
import { listenForProbes, type ProbeServer } from './probe-server.js';
import { openSecrets, type SecretSource } from './secrets/index.js';
import { drain, listen } from './server.js';

const version = process.env.npm_package_version ?? '0.1.0';
const functions = functionRegistry(functionNames, functionLoaders);

function fail(message: string): never {
  process.stderr.write(`knative-events: ${message}\n`);
  process.exit(1);
}

function failToListen(err: unknown, port: number, name = 'PORT'): never {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE')
    fail(`${name} ${port} is already in use: stop what listens there or set ${name} to a free port`);
  if (code === 'EACCES') fail(`${name} ${port} needs privileges: use a port above 1023`);
  throw err;
}

/** The probes' own listener (PROBE_PORT), when configured. */
function probesOn(app: Koa, port: number | undefined): Promise<ProbeServer | undefined> {
  if (port === undefined) return Promise.resolve(undefined);
  return listenForProbes(app, port).catch((err: unknown) => failToListen(err, port, 'PROBE_PORT'));
}

/** The secrets config values may reference; on failure, the retry warnings logged meanwhile reach stdout first. */
async function loadSecrets(boot: BootConfig, bootLog: Logger): Promise<SecretSource> {
  try {
    return await openSecrets(boot.vault, { log: bootLog });
  } catch (err) {
    await new Promise<void>((resolve) => bootLog.flush(() => resolve()));
    throw err;
  }
}

/** SIGTERM (or Ctrl-C): readiness 503, requests in flight finish, then what the role opened is closed. */
function drainOnSignals(
  server: Server,
  probes: ProbeServer | undefined,
  runtime: Assembled,
  secrets: SecretSource,
  config: RuntimeConfig,
  log: Logger,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: runtime.lifecycle.inFlight }, 'draining');
    const { abandoned } = await drain(server, runtime.lifecycle, config.shutdownTimeoutMs);
    await runtime.close();
    secrets.close();
    await probes?.close();
    if (abandoned > 0) log.warn({ abandoned }, 'shutdown timeout reached with requests still running');
    log.info('stopped');
    log.flush(() => process.exit(0));
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function main(): Promise<void> {
  // Secrets first (config values may reference them), so only what loading them needs is read before.
  let boot: BootConfig;
  try {
    boot = parseBootConfig(process.env, functions.names);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const bootLog = createLogger({ level: boot.logLevel, base: { ...boot.logBase } });
  const starting: StartingServer | undefined =
    boot.vault.mode === 'direct'
      ? await listenWhileStarting(boot.port, bootLog).catch((err: unknown) => failToListen(err, boot.port))
      : undefined;
  // While Vault is awaited, the probes are answered by the starting app on both ports.
  const startingProbes = starting ? await probesOn(starting.app, boot.probePort) : undefined;
  const secrets = await loadSecrets(boot, bootLog);
  const env = Object.freeze({ ...process.env });
  let config: RuntimeConfig;
  try {
    config = parseConfig(env, secrets.store, functions.names);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const functionName = 'functionName' in config ? config.functionName : undefined;
  const log = bootLog.child({ function: functionName });
  const runtime = await assemble(config, {
    log,
    env,
    version,
    secrets: secrets.store,
    functions,
  });

  let server: Server;
  try {
    if (starting) starting.serve(runtime.app);
    server = starting?.server ?? (await listen(runtime.app, { port: config.port }));
  } catch (err) {
    failToListen(err, config.port);
  }
  startingProbes?.serve(runtime.app);
  const probes = startingProbes ?? (await probesOn(runtime.app, config.probePort));
  runtime.lifecycle.markReady();
  log.info(
    { port: config.port, probePort: config.probePort, version, memoryBudgetBytes: runtime.memoryBudget.limitBytes },
    `${config.role} listening`,
  );
  drainOnSignals(server, probes, runtime, secrets, config, log);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message);
  fail(`could not start: ${err instanceof Error ? err.message : String(err)}`);
});
