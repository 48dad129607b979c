// Runs every role inside the image built by build/buildah-image.sh (buildah run, chroot isolation, the
// host's network) and checks /healthz and one real request each: proof that the image carries all it needs.
//
//   node build/image-smoke.mjs [image-name]        # default knative-events:scratch; as root, buildah installed
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { createServer } from 'node:net';

const image = process.argv[2] ?? 'knative-events:scratch';
const buildahEnv = { ...process.env, STORAGE_DRIVER: 'vfs', BUILDAH_ISOLATION: 'chroot' };
const buildah = (...args) => execFileSync('buildah', args, { env: buildahEnv, encoding: 'utf8' }).trim();

/** @returns {Promise<number>} */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });

/** A broker / KafkaSink stand-in on the host that records what it accepted. */
async function receiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(202).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/`, received, close: () => server.close() };
}

async function waitHealthy(url, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}healthz`);
      if (res.status === 200) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no /healthz answer within 10 s');
}

const ceHeaders = (id) => ({
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': id,
  'ce-source': '/image-smoke',
  'ce-type': 'image.smoke',
});

async function runRole(name, env, check) {
  const port = await freePort();
  const ctr = buildah('from', image);
  const envArgs = Object.entries({ ...env, PORT: String(port) }).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  // Detached, so the whole process group (buildah and the runtime under it) can be signalled at once.
  const child = spawn('buildah', ['run', ...envArgs, ctr, '--', '/app/knative-events'], {
    env: buildahEnv,
    stdio: 'ignore',
    detached: true,
  });
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitHealthy(url, child);
    await check(url);
    console.log(`ok   ${name}`);
  } finally {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    buildah('rm', ctr);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const user = JSON.parse(buildah('inspect', '--type', 'image', image)).OCIv1.config;
expect(user.User === '65532:65532', `image user is ${user.User}, expected 65532:65532`);
expect(user.Labels?.['org.opencontainers.image.title'] === 'knative-events', 'OCI title label missing');

const broker = await receiver();
try {
  await runRole('handler', { ROLE: 'handler', BROKER_URL: broker.url }, async (url) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ce_type: 'image.smoke', ce_source: '/image-smoke' },
      body: '{"n":1}',
    });
    expect(res.status === 202, `handler answered ${res.status}`);
    expect(
      broker.received.some((r) => r.body.includes('"image.smoke"')),
      'the broker stand-in got no event',
    );
  });
  await runRole('subscriber', { ROLE: 'subscriber', FUNCTION: 'echo' }, async (url) => {
    const res = await fetch(url, { method: 'POST', headers: ceHeaders('s-1'), body: '{"n":2}' });
    expect(res.status === 200 && (await res.text()) === '{"n":2}', `subscriber answered ${res.status}`);
  });
  await runRole(
    'sink-forwarder',
    { ROLE: 'sink-forwarder', FUNCTION: 'echo', KAFKA_SINK_URL: broker.url },
    async (url) => {
      const before = broker.received.length;
      const res = await fetch(url, { method: 'POST', headers: ceHeaders('f-1'), body: '{"n":3}' });
      expect(res.status === 202, `sink-forwarder answered ${res.status}`);
      expect(
        broker.received.length === before + 1 && broker.received.at(-1).body === '{"n":3}',
        'the sink stand-in got no record',
      );
    },
  );
  await runRole('dlq', { ROLE: 'dlq' }, async (url) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...ceHeaders('d-1'), 'ce-knativeerrorcode': '500', 'ce-knativeerrordest': 'http://x/' },
      body: '{"n":4}',
    });
    expect(res.status === 202 && res.headers.get('x-dead-letter-id'), `dlq answered ${res.status}`);
  });
} finally {
  broker.close();
}
