// Command line of the runner → typed options. Values files are positional (default values/local.yaml);
// flags override the values file's `local:` section.
import { parseArgs } from 'node:util';
import { RunnerError } from './errors.js';
import { levels, type Level } from './log.js';

export interface RunnerArgs {
  readonly valuesFiles: readonly string[];
  readonly outDir: string | undefined;
  readonly port: number | undefined;
  readonly logLevel: Level | undefined;
  readonly secretsFile: string | undefined;
  readonly release: string;
  readonly namespace: string;
  readonly build: boolean;
  readonly help: boolean;
}

export const usage = `usage: npm start -- [values.yaml ...] [--out-dir DIR] [--port N] [--log-level LEVEL] [--secrets FILE]
                    [--release NAME] [--namespace NS] [--no-build]
  values.yaml     values files for the chart, later ones win (default values/local.yaml)
  --out-dir       where sink files, volumes (the dlq store) and state.json go (default .local-run)
  --port          first port: handlers, other services, broker, sink ingress follow (default 8080; 0 = any free ports)
  --log-level     trace|debug|info|warn|error: the runner's own lines and every service's LOG_LEVEL
  --secrets       local secrets file (YAML with files: and/or secrets:), never inside the repo unless git-ignored
  --no-build      do not rebuild dist/knative-events.cjs when it is missing or older than the sources`;

export function parseRunnerArgs(argv: readonly string[]): RunnerArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'out-dir': { type: 'string' },
        port: { type: 'string' },
        'log-level': { type: 'string' },
        secrets: { type: 'string' },
        release: { type: 'string', default: 'local' },
        namespace: { type: 'string', default: 'default' },
        'no-build': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new RunnerError(`${(err as Error).message}; see npm start -- --help`);
  }
  const v = parsed.values;
  const port = v.port === undefined ? undefined : Number(v.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new RunnerError(`--port ${v.port}: expected a port number (0 = any free ports)`);
  const level = v['log-level'];
  if (level !== undefined && !(levels as string[]).includes(level))
    throw new RunnerError(`--log-level ${level}: expected one of ${levels.join(', ')}`);
  return {
    valuesFiles: parsed.positionals.length > 0 ? parsed.positionals : ['values/local.yaml'],
    outDir: v['out-dir'],
    port,
    logLevel: level as Level | undefined,
    secretsFile: v.secrets,
    release: v.release ?? 'local',
    namespace: v.namespace ?? 'default',
    build: !v['no-build'],
    help: v.help ?? false,
  };
}
