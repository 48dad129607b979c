// `npm start`: renders the chart with helm and runs what it describes on this machine — Services as child
// processes of the bundled runtime, a local Broker with Trigger delivery, PingSources, KafkaSinks as files.
// Wiring only: arguments → bundle and helm → manifests → plan → servers and children → summary → Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findHelm } from '../build/helm-path.mjs';
import { setupHelm } from '../build/setup-helm.mjs';
import { parseRunnerArgs, usage } from './args.js';
import { createBroker } from './broker.js';
import { ensureBundle } from './bundle.js';
import { RunnerError } from './errors.js';
import { fetchPost } from './http.js';
import { createKafkaSinkIngress } from './kafka-sink.js';
import { createConsole, wantsColour, type Level } from './log.js';
import { readManifests } from './manifests.js';
import { buildPlan } from './plan.js';
import { startPings } from './ping.js';
import { assignPorts } from './ports.js';
import { renderChart, type SpawnSync } from './render.js';
import { loadLocalSecrets, writeAgentFiles } from './secrets.js';
import { startServer } from './server.js';
import { removeState, writeState } from './state.js';
import { supervise, waitReady, type Supervised } from './supervisor.js';
import { summary } from './table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist', 'knative-events.cjs');
const host = '127.0.0.1';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const spawnText: SpawnSync = (cmd, args, options) => {
  const r = spawnSync(cmd, args, { ...options, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
};

function helmBinary(say: (m: string) => void): string {
  const found = findHelm();
  if (found) return found;
  say('helm not found on PATH or in .tools: installing the pinned Helm (node build/setup-helm.mjs)');
  try {
    return setupHelm({ log: say })[4] as string;
  } catch (err) {
    throw new RunnerError(`helm is missing and could not be installed (${(err as Error).message.split('\n')[0]}): install helm or run \`node build/setup-helm.mjs\``);
  }
}

async function main(): Promise<void> {
  const args = parseRunnerArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const level: Level = args.logLevel ?? 'info';
  const out = createConsole({ level, colour: wantsColour(process.env, process.stdout.isTTY === true), write: (line) => process.stdout.write(`${line}\n`) });
  const runner = out.component('runner');

  ensureBundle(root, bundle, args.build, spawnText, (m) => runner.info(m));
  const helm = helmBinary((m) => runner.info(m));
  const valuesFiles = args.valuesFiles.map((f) => resolve(process.cwd(), f));
  const rendered = renderChart({ helm, chartDir: join(root, 'chart'), valuesFiles, release: args.release, namespace: args.namespace, cwd: root, spawn: spawnText, env: process.env });
  let manifests;
  try {
    manifests = readManifests(rendered.manifests, args.namespace);
  } catch (err) {
    throw err instanceof RunnerError ? err : new RunnerError(`the rendered chart cannot run locally: ${(err as Error).message}`);
  }
  if (manifests.services.length === 0) throw new RunnerError(`${args.valuesFiles.join(', ')} enables no service: enable at least one under services:`);

  const outDir = resolve(process.cwd(), args.outDir ?? rendered.local.outDir ?? join(root, '.local-run'));
  mkdirSync(outDir, { recursive: true });
  const secrets = loadLocalSecrets(args.secretsFile ?? rendered.local.secretsFile, root, spawnText);
  const agentSecretsDir = writeAgentFiles(secrets, join(outDir, 'secrets'));
  const ports = await assignPorts(manifests.services, args.port ?? rendered.local.port ?? 8080, host);
  const plan = buildPlan(manifests, {
    host,
    brokerPort: ports.broker,
    sinkPort: ports.sink,
    servicePorts: ports.services,
    outDir,
    secrets: secrets.secrets,
    secretsFile: secrets.file,
    logLevel: args.logLevel,
    agentSecretsDir,
  });

  for (const s of plan.services) out.component(s.short);
  let stopping = false;
  const deliveryIo = { post: fetchPost, sleep, stopping: () => stopping };
  const sinkIngress = await createKafkaSinkIngress(plan.sinks, { log: out.component('sink') });
  const sinkServer = await startServer('KafkaSink ingress', host, ports.sink, (req, body) => sinkIngress.handle(req, body));
  const broker = createBroker(plan.brokers, plan.triggers, { ...deliveryIo, log: out.component('broker') });
  const brokerServer = await startServer('broker ingress', host, ports.broker, (req, body) => broker.handle(req, body));

  const children = new Map<string, Supervised>();
  for (const service of plan.services) {
    for (const v of service.volumes) mkdirSync(v.localDir, { recursive: true });
    children.set(
      service.short,
      supervise({
        command: process.execPath,
        args: [bundle],
        env: { ...service.env },
        cwd: outDir,
        spawn: (cmd, a, o) => spawn(cmd, a, { ...o, stdio: ['ignore', 'pipe', 'pipe'] }),
        log: out.component(service.short),
      }),
    );
  }
  const readiness = await Promise.all(plan.services.map(async (s) => ({ short: s.short, ready: await waitReady(s.url, 20_000) })));
  const notReady = readiness.filter((r) => !r.ready).map((r) => r.short);
  const pings = startPings(plan.pings, { ...deliveryIo, log: out.component('ping') });

  const stateFile = join(outDir, 'state.json');
  const dlqFiles = plan.services.filter((s) => s.role === 'dlq' && (s.env.DLQ_STORE ?? 'file') === 'file').map((s) => resolve(outDir, s.env.DLQ_FILE ?? 'dead-letters.jsonl'));
  writeState(stateFile, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    outDir,
    handlerUrl: plan.services.find((s) => s.role === 'handler')?.url,
    brokers: plan.brokers.map((b) => b.url),
    services: plan.services.map((s) => ({ short: s.short, name: s.name, role: s.role, function: s.functionName, url: s.url, pid: children.get(s.short)?.pid() })),
    sinks: plan.sinks.map((s) => ({ name: s.name, topic: s.topic, url: s.url, file: s.file })),
    dlqFiles,
  });
  out.plain(summary(plan, { cwd: process.cwd(), nextPings: pings.nextRuns(), dlqFiles, notReady, stateFile }));
  if (notReady.length > 0) runner.warn(`not ready after 20 s: ${notReady.join(', ')} (their logs say why; they are restarted with backoff)`);

  const shutdown = async (signal: string) => {
    if (stopping) {
      runner.warn(`${signal} again: killing the services now`);
      for (const c of children.values()) c.kill();
      process.exit(130);
    }
    stopping = true;
    runner.info(`${signal}: stopping — services drain first (Ctrl-C again to kill them)`);
    pings.stop();
    // Services first: they may still be posting to the broker or a KafkaSink while they drain.
    await Promise.all(plan.services.map((s) => children.get(s.short)?.stop((Math.min(s.timeoutSeconds ?? 30, 30) + 5) * 1000)));
    await Promise.race([broker.idle(), sleep(5000)]);
    await Promise.all([brokerServer.close(), sinkServer.close()]);
    removeState(stateFile);
    runner.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const message = err instanceof RunnerError ? err.message : `could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
});
