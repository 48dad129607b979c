// `npm run helm -- <args>`: runs the project's pinned Helm 4 (.tools/helm4/helm, fetched and checked by
// build/setup-helm.mjs on first use), so `helm install`, `helm template`, `helm test` work without a Helm on
// PATH and with the version the chart is tested with. Exit code and signals pass through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pinnedHelmPath } from './helm-path.mjs';
import { setupHelm } from './setup-helm.mjs';

const major = 4;
let helm = pinnedHelmPath(major);
if (!existsSync(helm)) {
  try {
    // Progress goes to stderr: stdout stays exactly Helm's (e.g. `npm run -s helm -- template … > out.yaml`).
    helm = setupHelm({ majors: [major], log: (m) => console.error(`npm run helm: ${m}`) })[major];
  } catch (err) {
    console.error(
      `npm run helm: the pinned Helm ${major} could not be installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
    );
    process.exit(1);
  }
}

const child = spawn(helm, process.argv.slice(2), { stdio: 'inherit' });
// Forwarded, so stopping `npm run helm` (SIGTERM from a supervisor, not only Ctrl-C) stops Helm too.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']))
  process.on(signal, () => child.kill(signal));
child.on('error', (err) => {
  console.error(`npm run helm: ${helm} could not run (${err.message}): delete .tools/helm${major} and try again`);
  process.exit(1);
});
child.on('exit', (code, signal) =>
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal] ?? 1) : 1)),
);
