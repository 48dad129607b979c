// The servers under test: how to start each one on a given port. Every one gets the same binary-mode
// CloudEvent and must echo its data; `ours-*` run the real runtime (subscriber role, echo function).
import { fileURLToPath } from 'node:url';

const bench = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
export const paths = {
  bundle: `${root}dist/knative-events.cjs`,
  binary: `${root}dist/knative-events`,
  /** Same executable built with --no-code-cache, only for the cold-start comparison. */
  binaryNoCache: `${bench}results/knative-events-no-code-cache`,
  /** peers/koa-minimal.cjs bundled like ours, so its cold start compares fairly. */
  koaBundle: `${bench}results/koa-minimal.bundle.cjs`,
  /** peers/koa-minimal.cjs bundled with the bundle's start-up plugins (build/bundle-config.mjs startUpPlugins). */
  koaStartUpBundle: `${bench}results/koa-minimal.start-up.bundle.cjs`,
  /** peers/koa-forwarder.cjs bundled the same way. */
  koaForwarderBundle: `${bench}results/koa-forwarder.bundle.cjs`,
};

const node = process.execPath;
const subscriberEnv = { ROLE: 'subscriber', FUNCTION: 'echo' };

/** @typedef {{ name: string, label: string, command: (port: number) => { cmd: string, args: string[], env: Record<string, string> } }} Target */

/** @type {Record<string, Target>} */
export const targets = {
  bare: {
    name: 'bare',
    label: 'bare node:http (floor)',
    command: (port) => ({ cmd: node, args: [`${bench}peers/bare-http.cjs`], env: { PORT: String(port) } }),
  },
  ours: subscriberOf('ours', 'knative-events bundle', paths.bundle),
  oursQuiet: subscriberOf('oursQuiet', 'knative-events bundle, LOG_LEVEL=warn', paths.bundle, { LOG_LEVEL: 'warn' }),
  oursNoMetrics: subscriberOf('oursNoMetrics', 'knative-events bundle, METRICS_ENABLED=false', paths.bundle, {
    METRICS_ENABLED: 'false',
  }),
  oursLean: subscriberOf('oursLean', 'knative-events bundle, LOG_LEVEL=warn, METRICS_ENABLED=false', paths.bundle, {
    LOG_LEVEL: 'warn',
    METRICS_ENABLED: 'false',
  }),
  koaMinimal: {
    name: 'koaMinimal',
    label: 'plain Koa echo, bundled (limit)',
    command: (port) => ({ cmd: node, args: [paths.koaBundle], env: { PORT: String(port) } }),
  },
  koaStartUp: {
    name: 'koaStartUp',
    label: "plain Koa echo, bundled with this project's start-up plugins (start-up limit)",
    command: (port) => ({ cmd: node, args: [paths.koaStartUpBundle], env: { PORT: String(port) } }),
  },
  oursBinary: {
    name: 'oursBinary',
    label: 'knative-events executable',
    command: (port) => ({ cmd: paths.binary, args: [], env: { ...subscriberEnv, PORT: String(port) } }),
  },
  oursBinaryNoCache: {
    name: 'oursBinaryNoCache',
    label: 'knative-events executable, no code cache',
    command: (port) => ({ cmd: paths.binaryNoCache, args: [], env: { ...subscriberEnv, PORT: String(port) } }),
  },
  functionsFramework: {
    name: 'functionsFramework',
    label: 'functions-framework (CloudEvent)',
    command: (port) => ({
      cmd: node,
      args: [
        `${bench}node_modules/@google-cloud/functions-framework/build/src/main.js`,
        '--target=echo',
        '--signature-type=cloudevent',
        `--source=${bench}peers/functions-framework-echo.cjs`,
        `--port=${port}`,
      ],
      env: { NODE_ENV: 'production' },
    }),
  },
  faasJsRuntime: {
    name: 'faasJsRuntime',
    label: 'faas-js-runtime',
    command: (port) => ({
      cmd: node,
      args: [
        `${bench}node_modules/faas-js-runtime/bin/cli.js`,
        `${bench}peers/faas-js-runtime-echo.mjs`,
        '--port',
        String(port),
      ],
      env: { NODE_ENV: 'production' },
    }),
  },
};

/**
 * Our subscriber running echo from any bundle (a saved earlier one for before/after), with extra settings.
 * @param {string} name @param {string} label @param {string} bundle @param {Record<string, string>} [env]
 * @returns {Target}
 */
export function subscriberOf(name, label, bundle, env = {}) {
  return {
    name,
    label,
    command: (port) => ({ cmd: node, args: [bundle], env: { ...subscriberEnv, ...env, PORT: String(port) } }),
  };
}

/**
 * The servers that post every event on to `receiverUrl` (the broker stand-in): the two baselines, and our
 * handler and sink-forwarder from a given bundle.
 * @param {string} receiverUrl
 */
export function forwarders(receiverUrl) {
  /** @type {(name: string, label: string, args: string[], env?: Record<string, string>) => Target} */
  const target = (name, label, args, env = {}) => ({
    name,
    label,
    command: (port) => ({ cmd: node, args, env: { BROKER_URL: receiverUrl, ...env, PORT: String(port) } }),
  });
  return {
    bare: target('bareForwarder', 'bare node:http forwarder (floor)', [`${bench}peers/bare-forwarder.cjs`]),
    koa: target('koaForwarder', 'plain Koa forwarder, bundled (limit)', [paths.koaForwarderBundle]),
    /** @param {string} name @param {string} label @param {string} bundle */
    handler: (name, label, bundle) => target(name, label, [bundle], { ROLE: 'handler' }),
    /** @param {string} name @param {string} label @param {string} bundle */
    sinkForwarder: (name, label, bundle) =>
      target(name, label, [bundle], { ROLE: 'sink-forwarder', FUNCTION: 'echo', KAFKA_SINK_URL: receiverUrl }),
  };
}

/** @type {Target} the Knative Broker / KafkaSink stand-in: reads the request, answers 202. */
export const standIn = {
  name: 'standIn',
  label: 'broker stand-in',
  command: (port) => ({ cmd: node, args: [`${bench}peers/broker-stand-in.cjs`], env: { PORT: String(port) } }),
};
