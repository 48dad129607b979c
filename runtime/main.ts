// Wiring only: environment → config → dependencies → role → app → listen → drain on SIGTERM.
import { assemble } from './assemble.js';
import { ConfigError, parseConfig, type RuntimeConfig } from './config.js';
import { createLogger } from './logger.js';
import { drain, listen } from './server.js';

const version = process.env.npm_package_version ?? '0.1.0';

function fail(message: string): never {
  process.stderr.write(`knative-events: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: RuntimeConfig;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const functionName = 'functionName' in config ? config.functionName : undefined;
  const log = createLogger({
    level: config.logLevel,
    base: { service: config.service, revision: config.revision, role: config.role, function: functionName },
  });
  const runtime = await assemble(config, { log, env: Object.freeze({ ...process.env }), version });

  let server;
  try {
    server = await listen(runtime.app, { port: config.port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') fail(`PORT ${config.port} is already in use: stop what listens there or set PORT to a free port`);
    if (code === 'EACCES') fail(`PORT ${config.port} needs privileges: use a port above 1023`);
    throw err;
  }
  runtime.lifecycle.markReady();
  log.info({ port: config.port, version }, `${config.role} listening`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: runtime.lifecycle.inFlight }, 'draining');
    const { abandoned } = await drain(server, runtime.lifecycle, config.shutdownTimeoutMs);
    await runtime.close();
    if (abandoned > 0) log.warn({ abandoned }, 'shutdown timeout reached with requests still running');
    log.info('stopped');
    log.flush(() => process.exit(0));
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message);
  fail(`could not start: ${err instanceof Error ? err.message : String(err)}`);
});
