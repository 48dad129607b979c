// `npm start`: renders the chart with helm and runs what it describes on this machine — Services as child
// processes of the bundled runtime, a local Broker with Trigger delivery, PingSources, KafkaSinks as files.
// Wiring only: arguments → bundle and helm → manifests → plan → servers and children → summary → Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findHelm } from '../build/helm-path.mjs';
import { setupHelm } from '../build/setup-helm.mjs';
import { adaptForLocal, type Adapted } from './adapt.js';
import { parseRunnerArgs, usage } from './args.js';
import { createBroker, type BrokerDeps, type LocalBroker } from './broker.js';
import { startTraceStore, traceEnv, type TraceStore } from './traces.js';
import { ensureBundle } from './bundle.js';
import { RunnerError } from './errors.js';
import { fetchPost } from './http.js';
import { createKafkaSinkIngress } from './kafka-sink.js';
import { createConsole, wantsColour } from './log.js';
import { readManifests, type Manifests } from './manifests.js';
import { buildPlan, type Plan } from './plan.js';
import { startPings, type PingScheduler } from './ping.js';
import { findMissing, missingMessage } from './preflight.js';
import { assignPorts } from './ports.js';
import { renderChart, type SpawnSync } from './render.js';
import { loadLocalSecrets, writeAgentFiles, type LocalSecrets } from './secrets.js';
import { startServer, type RunningServer } from './server.js';
import { removeState, writeState } from './state.js';
import { supervise, waitReady, type Supervised } from './supervisor.js';
import { suggestEvents } from './suggest.js';
import { summary, type DlqAccess } from './table.js';

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
  say('helm not found on PATH or in .tools: installing the pinned Helm 4 (node build/setup-helm.mjs 4)');
  try {
    // Only the major the runner uses: the chart tests fetch Helm 3 as well, a user running the pipeline does not need it.
    return setupHelm({ log: say, majors: [4] })[4] as string;
  } catch (err) {
    throw new RunnerError(
      `helm is missing and could not be installed (${(err as Error).message.split('\n')[0]}): install helm or run \`node build/setup-helm.mjs\``,
    );
  }
}

type Args = ReturnType<typeof parseRunnerArgs>;
type Console = ReturnType<typeof createConsole>;
type Log = ReturnType<Console['component']>;
type Rendered = ReturnType<typeof renderChart>;

/** Bundle and helm, then the chart rendered with the values files and read into manifests. */
function renderManifests(args: Args, runner: Log): { rendered: Rendered; manifests: Manifests } {
  ensureBundle(root, bundle, args.build, spawnText, (m) => runner.info(m));
  const helm = helmBinary((m) => runner.info(m));
  const valuesFiles = args.valuesFiles.map((f) => resolve(process.cwd(), f));
  const rendered = renderChart({
    helm,
    chartDir: join(root, 'chart'),
    valuesFiles,
    release: args.release,
    namespace: args.namespace,
    cwd: root,
    spawn: spawnText,
    env: process.env,
  });
  let manifests: Manifests;
  try {
    manifests = readManifests(rendered.manifests, args.namespace);
  } catch (err) {
    throw err instanceof RunnerError
      ? err
      : new RunnerError(`the rendered chart cannot run locally: ${(err as Error).message}`);
  }
  if (manifests.services.length === 0)
    throw new RunnerError(`${args.valuesFiles.join(', ')} enables no service: enable at least one under services:`);
  return { rendered, manifests };
}

/** A path as printed: relative to the working directory when it is under it. */
const shown = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p));

/** Stand-ins for what only a cluster has, then every secret checked, before anything is started. */
function adaptWithSecrets(
  args: Args,
  rendered: Rendered,
  manifests: Manifests,
  outDir: string,
  runner: Log,
): { adapted: Adapted; secrets: LocalSecrets; agentSecretsDir: string | undefined } {
  const secrets = loadLocalSecrets(args.secretsFile ?? rendered.local.secretsFile, root, spawnText);
  const adapted = adaptForLocal(manifests, {
    newToken: () => randomBytes(16).toString('hex'),
    localDlqDir: (short) => shown(join(outDir, 'volumes', short, 'dlq-data')),
  });
  const missing = missingMessage(findMissing(adapted, secrets), {
    values: args.valuesFiles.join(', '),
    secretsFile: secrets.file && shown(secrets.file),
  });
  if (missing) throw new RunnerError(missing);
  for (const note of adapted.notes) runner.info(note);
  mkdirSync(outDir, { recursive: true });
  const usesAgentDir = adapted.manifests.services.some((s) => s.env.some((e) => e.name === 'VAULT_SECRETS_DIR'));
  // An agent-mode service with no files to read still needs the folder to exist (the runtime lists it at start).
  let agentSecretsDir = writeAgentFiles(secrets, join(outDir, 'secrets'));
  if (!agentSecretsDir && usesAgentDir) {
    agentSecretsDir = join(outDir, 'secrets');
    mkdirSync(agentSecretsDir, { recursive: true, mode: 0o700 });
  }
  return { adapted, secrets, agentSecretsDir };
}

/** Each Service as a supervised child process of the bundled runtime. */
function startServices(
  plan: Plan,
  outDir: string,
  out: Console,
  extraEnv: Readonly<Record<string, string>>,
): Map<string, Supervised> {
  const children = new Map<string, Supervised>();
  for (const service of plan.services) {
    for (const v of service.volumes) mkdirSync(v.localDir, { recursive: true });
    children.set(
      service.short,
      supervise({
        command: process.execPath,
        args: [bundle],
        env: { ...service.env, ...extraEnv },
        cwd: outDir,
        spawn: (cmd, a, o) => spawn(cmd, a, { ...o, stdio: ['ignore', 'pipe', 'pipe'] }),
        log: out.component(service.short),
      }),
    );
  }
  return children;
}

/** How to reach each dlq's admin API and console, and where its token comes from. */
function dlqAccess(plan: Plan, adapted: Adapted, secrets: LocalSecrets, outDir: string): DlqAccess[] {
  return plan.services
    .filter((s) => s.role === 'dlq')
    .map((s): DlqAccess => {
      const generated = adapted.generatedTokens.get(s.short);
      const ref = adapted.manifests.services
        .find((m) => m.short === s.short)
        ?.env.find((e) => e.name === 'DLQ_ADMIN_TOKEN')?.source;
      const fromSecret =
        ref && 'secretKeyRef' in ref
          ? `token: Secret ${ref.secretKeyRef.name} key ${ref.secretKeyRef.key} in ${secrets.file ? shown(secrets.file) : 'the secrets file'}`
          : undefined;
      return {
        short: s.short,
        file:
          (s.env.DLQ_STORE ?? 'file') === 'file' ? resolve(outDir, s.env.DLQ_FILE ?? 'dead-letters.jsonl') : undefined,
        adminUrl: `${s.url}dead-letters`,
        token: fromSecret ? undefined : s.env.DLQ_ADMIN_TOKEN,
        tokenFrom: generated ? 'token generated for this run' : (fromSecret ?? 'token from the values file'),
        // The console is served by the dlq itself, behind the same token (asked once by the page).
        consoleUrl: `${s.url}dead-letters/ui`,
      };
    });
}

/** state.json: what runs where, for `npm run send` and `npm run dlq`. */
function writeRunState(
  stateFile: string,
  plan: Plan,
  outDir: string,
  children: ReadonlyMap<string, Supervised>,
  dlq: readonly DlqAccess[],
  traces: string,
): void {
  const dlqFiles = plan.services
    .filter((s) => s.role === 'dlq' && (s.env.DLQ_STORE ?? 'file') === 'file')
    .map((s) => resolve(outDir, s.env.DLQ_FILE ?? 'dead-letters.jsonl'));
  writeState(stateFile, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    outDir,
    handlerUrl: plan.services.find((s) => s.role === 'handler')?.url,
    brokers: plan.brokers.map((b) => b.url),
    services: plan.services.map((s) => ({
      short: s.short,
      name: s.name,
      role: s.role,
      function: s.functionName,
      url: s.url,
      pid: children.get(s.short)?.pid(),
    })),
    sinks: plan.sinks.map((s) => ({ name: s.name, topic: s.topic, url: s.url, file: s.file })),
    dlqFiles,
    dlqAdmin: dlq.map((d) => ({
      short: d.short,
      url: d.adminUrl,
      token: plan.services.find((s) => s.short === d.short)?.env.DLQ_ADMIN_TOKEN,
    })),
    traces,
  });
}

interface Running {
  readonly plan: Plan;
  readonly children: ReadonlyMap<string, Supervised>;
  readonly pings: PingScheduler;
  readonly broker: LocalBroker;
  readonly servers: readonly RunningServer[];
  readonly stateFile: string;
  readonly runner: Log;
  /** Tells deliveries in progress to stop retrying. */
  markStopping(): void;
}

/** Ctrl-C: services drain first, then the broker and the sink ingress; a second Ctrl-C kills the services. */
function stopOnSignals(running: Running): void {
  const { plan, children, runner } = running;
  let stopping = false;
  let firstSignalAt = 0;
  const shutdown = async (signal: string) => {
    // One Ctrl-C in a terminal arrives twice: from the terminal (to the whole process group) and forwarded by
    // npm. Only a second signal a moment later is the user's "Ctrl-C again".
    if (stopping && Date.now() - firstSignalAt < 1000) return;
    if (stopping) {
      runner.warn(`${signal} again: killing the services now`);
      for (const c of children.values()) c.kill();
      process.exit(130);
    }
    stopping = true;
    running.markStopping();
    firstSignalAt = Date.now();
    runner.info(`${signal}: stopping — services drain first (Ctrl-C again to kill them)`);
    running.pings.stop();
    // Services first: they may still be posting to the broker or a KafkaSink while they drain.
    await Promise.all(
      plan.services.flatMap(
        (s) => children.get(s.short)?.stop((Math.min(s.timeoutSeconds ?? 30, 30) + 5) * 1000) ?? [],
      ),
    );
    await Promise.race([running.broker.idle(), sleep(5000)]);
    await Promise.all(running.servers.map((server) => server.close()));
    removeState(running.stateFile);
    runner.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

type Ports = Awaited<ReturnType<typeof assignPorts>>;

/** From the arguments to a plan: the chart rendered and adapted, every secret checked, the ports assigned. */
async function planRun(
  args: Args,
  runner: Log,
): Promise<{ plan: Plan; adapted: Adapted; secrets: LocalSecrets; outDir: string; ports: Ports }> {
  const { rendered, manifests } = renderManifests(args, runner);
  const outDir = resolve(process.cwd(), args.outDir ?? rendered.local.outDir ?? join(root, '.local-run'));
  const { adapted, secrets, agentSecretsDir } = adaptWithSecrets(args, rendered, manifests, outDir, runner);
  const ports = await assignPorts(adapted.manifests.services, args.port ?? rendered.local.port ?? 8080, host);
  const plan = buildPlan(adapted.manifests, {
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
  return { plan, adapted, secrets, outDir, ports };
}

/**
 * What the runner serves itself, started before the services so their first posts find it: the KafkaSink
 * ingress, the trace store, and the broker with its ingress.
 */
async function startIngresses(
  plan: Plan,
  ports: Ports,
  out: Console,
  deliveryIo: Omit<BrokerDeps, 'log' | 'traces'>,
): Promise<{ broker: LocalBroker; servers: RunningServer[]; traces: TraceStore }> {
  const sinkIngress = await createKafkaSinkIngress(plan.sinks, { log: out.component('sink') });
  const sinkServer = await startServer('KafkaSink ingress', host, ports.sink, (req, body) =>
    sinkIngress.handle(req, body),
  );
  // Every service's spans (and the broker's), kept in memory for `npm run trace -- <event id>`, and forwarded to
  // tracing.endpoint when the values set one.
  const traces = await startTraceStore({
    host,
    forwardTo: plan.services.map((s) => s.env.OTEL_EXPORTER_OTLP_ENDPOINT).find(Boolean),
  });
  const broker = createBroker(plan.brokers, plan.triggers, { ...deliveryIo, log: out.component('broker'), traces });
  const brokerServer = await startServer('broker ingress', host, ports.broker, (req, body) => broker.handle(req, body));
  return { broker, servers: [brokerServer, sinkServer], traces };
}

/** Once every service answered (or 20 s passed): state.json for `npm run send`/`dlq`, then the start-up table. */
function announce(
  run: { plan: Plan; adapted: Adapted; secrets: LocalSecrets; outDir: string },
  started: { children: ReadonlyMap<string, Supervised>; pings: PingScheduler; traces: TraceStore },
  notReady: readonly string[],
  out: Console,
  stateFile: string,
): void {
  const { plan, outDir } = run;
  const dlq = dlqAccess(plan, run.adapted, run.secrets, outDir);
  writeRunState(stateFile, plan, outDir, started.children, dlq, started.traces.url);
  const suggestions = suggestEvents(plan, join(root, 'functions'));
  const handlerAuth = plan.services.find((s) => s.role === 'handler')?.env.HANDLER_AUTH ?? 'off';
  out.plain(
    summary(plan, {
      cwd: process.cwd(),
      nextPings: started.pings.nextRuns(),
      dlq,
      notReady,
      stateFile,
      suggestions,
      handlerAuth,
    }),
  );
}

async function main(): Promise<void> {
  const args = parseRunnerArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const out = createConsole({
    level: args.logLevel ?? 'info',
    colour: wantsColour(process.env, process.stdout.isTTY === true),
    write: (line) => process.stdout.write(`${line}\n`),
  });
  const runner = out.component('runner');
  const run = await planRun(args, runner);
  const { plan, outDir } = run;
  let stopping = false;
  const deliveryIo = { post: fetchPost, sleep, stopping: () => stopping };
  const { broker, servers, traces } = await startIngresses(plan, run.ports, out, deliveryIo);
  const children = startServices(plan, outDir, out, traceEnv(traces));
  const readiness = await Promise.all(
    plan.services.map(async (s) => ({ short: s.short, ready: await waitReady(s.url, 20_000) })),
  );
  const notReady = readiness.filter((r) => !r.ready).map((r) => r.short);
  const pings = startPings(plan.pings, { ...deliveryIo, log: out.component('ping') });
  const stateFile = join(outDir, 'state.json');
  announce(run, { children, pings, traces }, notReady, out, stateFile);
  if (notReady.length > 0)
    runner.warn(`not ready after 20 s: ${notReady.join(', ')} (their logs say why; they are restarted with backoff)`);
  stopOnSignals({
    plan,
    children,
    pings,
    broker,
    servers,
    stateFile,
    runner,
    markStopping: () => (stopping = true),
  });
}

main().catch((err: unknown) => {
  const message =
    err instanceof RunnerError
      ? err.message
      : `could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
});
