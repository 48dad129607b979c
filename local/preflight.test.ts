// Up-front checks and local stand-ins, on manifests written the way the chart renders them: every missing
// secret is listed at once in the secrets file's format; a postgres dlq, Vault direct mode and a dlq without
// an admin token are replaced by what runs here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adaptForLocal } from './adapt.js';
import type { Manifests, ServiceManifest } from './manifests.js';
import { findMissing, missingMessage } from './preflight.js';
import { noSecrets, type LocalSecrets } from './secrets.js';

const v = (name: string, value: string) => ({ name, source: { value } });
const ref = (name: string, secret: string, key: string) => ({
  name,
  source: { secretKeyRef: { name: secret, key, optional: false } },
});
const service = (
  short: string,
  env: ServiceManifest['env'],
  extra: Partial<ServiceManifest> = {},
): ServiceManifest => ({
  name: `rel-${short}`,
  namespace: 'default',
  short,
  env,
  envFromSecrets: [],
  volumeMounts: [],
  timeoutSeconds: undefined,
  vaultAgentFiles: [],
  ...extra,
});
const manifests = (...services: ServiceManifest[]): Manifests => ({
  services,
  brokers: [],
  triggers: [],
  pingSources: [],
  kafkaSinks: [],
  ignored: [],
});
const adapt = (m: Manifests) =>
  adaptForLocal(m, {
    newToken: () => 'generated-token-0123456789',
    localDlqDir: (s) => `.local-run/volumes/${s}/dlq-data`,
  });

const prodLike = manifests(
  service(
    'handler',
    [
      v('ROLE', 'handler'),
      v('HANDLER_AUTH', 'hmac'),
      v('VAULT_SECRETS_DIR', '/vault/secrets'),
      ref('METRICS_TOKEN', 'metrics', 'token'),
    ],
    { vaultAgentFiles: ['app'] },
  ),
  service(
    'dlq',
    [
      v('ROLE', 'dlq'),
      v('DLQ_STORE', 'postgres'),
      v('DLQ_DATABASE_URL', 'secret:DLQ_DATABASE_URL'),
      v('DLQ_RETENTION_DAYS', '90'),
      ref('DLQ_ADMIN_TOKEN', 'dlq-admin', 'token'),
      ref('METRICS_TOKEN', 'metrics', 'token'),
    ],
    { vaultAgentFiles: ['app'] },
  ),
);

describe('findMissing + missingMessage', () => {
  it('lists every missing secret at once, grouped by service, in the secrets file format', () => {
    const message = missingMessage(findMissing(adapt(prodLike), noSecrets), {
      values: 'values/prod.yaml',
      secretsFile: undefined,
    });
    assert.ok(message);
    const lines = message.split('\n');
    assert.equal(
      lines[0],
      'values/prod.yaml needs secrets that no local secrets file was given for (nothing was started):',
    );
    assert.ok(lines.includes('  - dlq: env DLQ_ADMIN_TOKEN comes from Secret dlq-admin key token'));
    assert.ok(lines.includes('  - handler, dlq: env METRICS_TOKEN comes from Secret metrics key token'));
    assert.ok(lines.includes('  - handler, dlq: the Vault agent writes the file app (vault.secrets.app)'));
    assert.ok(
      lines.includes(
        '  - handler: HANDLER_AUTH=hmac checks callers against the comma-separated keys in the secret HANDLER_AUTH_KEYS',
      ),
    );
    const skeleton = lines.slice(
      lines.indexOf('Missing, in the local secrets file format:') + 1,
      lines.findIndex((l) => l.startsWith('Copy the example where')),
    );
    assert.deepEqual(
      skeleton.map((l) => l.replace(/\s+#.*$/, '')),
      [
        '  files:',
        '    app:',
        '      HANDLER_AUTH_KEYS: <value>',
        '  secrets:',
        '    metrics:',
        '      token: <value>',
        '    dlq-admin:',
        '      token: <value>',
      ],
    );
    assert.match(message, /npm start -- values\/prod\.yaml --secrets \.local-run\/secrets\.yaml/);
    // The postgres store runs as a file store here: its database URL is not asked for.
    assert.doesNotMatch(message, /DLQ_DATABASE_URL/);
  });

  it('is satisfied by a secrets file with those entries, and names the file when one is still missing', () => {
    const complete: LocalSecrets = {
      file: '/home/me/s.yaml',
      files: { app: { HANDLER_AUTH_KEYS: 'k1,k2' } },
      secrets: { metrics: { token: 'm'.repeat(16) }, 'dlq-admin': { token: 'a'.repeat(16) } },
    };
    assert.equal(
      missingMessage(findMissing(adapt(prodLike), complete), {
        values: 'values/prod.yaml',
        secretsFile: complete.file,
      }),
      undefined,
    );
    const noKey: LocalSecrets = { ...complete, files: { app: { OTHER: 'x' } } };
    const message = missingMessage(findMissing(adapt(prodLike), noKey), {
      values: 'values/prod.yaml',
      secretsFile: complete.file,
    });
    assert.match(
      message ?? '',
      /^values\/prod\.yaml needs secrets that the local secrets file \/home\/me\/s\.yaml does not have/,
    );
    assert.match(message ?? '', /handler: HANDLER_AUTH=hmac .* HANDLER_AUTH_KEYS\n/);
    assert.match(message ?? '', /Add them to \/home\/me\/s\.yaml and start again\.$/);
  });

  it('asks for secret: references in env values and for envFrom Secrets; optional ones are not required', () => {
    const m = manifests(
      service(
        'sub',
        [
          v('ROLE', 'subscriber'),
          v('API_URL', 'https://x/${secret:API_PATH}'),
          { name: 'OPT', source: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
        ],
        {
          envFromSecrets: [
            { name: 'bundle', optional: false },
            { name: 'extra', optional: true },
          ],
          vaultAgentFiles: ['app'],
        },
      ),
    );
    const missing = findMissing(adapt(m), { file: 'f', files: { app: {} }, secrets: {} });
    assert.deepEqual(
      [...missing.files].map(([f, keys]) => [f, [...keys]]),
      [['app', ['API_PATH']]],
    );
    assert.deepEqual([...missing.secrets.keys()], ['bundle']);
    assert.deepEqual(missing.reasons, [
      'sub: envFrom takes every key of Secret bundle',
      'sub: env API_URL refers to the secret API_PATH',
    ]);
  });
});

describe('adaptForLocal', () => {
  it('runs a postgres dlq as a file store on a local volume, without its database settings, and says so', () => {
    const adapted = adapt(prodLike);
    const dlq = adapted.manifests.services.find((s) => s.short === 'dlq');
    const env = Object.fromEntries((dlq?.env ?? []).map((e) => [e.name, 'value' in e.source ? e.source.value : 'ref']));
    assert.equal(env.DLQ_STORE, 'file');
    assert.equal(env.DLQ_FILE, '/local-dlq/dead-letters.jsonl');
    assert.equal(env.DLQ_DATABASE_URL, undefined);
    assert.equal(env.DLQ_RETENTION_DAYS, undefined);
    assert.equal(env.DLQ_ADMIN_TOKEN, 'ref', 'a token from a Secret is kept');
    assert.deepEqual(dlq?.volumeMounts, [{ name: 'dlq-data', mountPath: '/local-dlq' }]);
    assert.deepEqual(adapted.notes, [
      'dlq: DLQ_STORE postgres runs as the file store locally (.local-run/volumes/dlq/dlq-data/dead-letters.jsonl); no PostgreSQL is started, so DLQ_DATABASE_URL, DLQ_RETENTION_DAYS are left out',
    ]);
    assert.equal(adapted.generatedTokens.size, 0);
  });

  it('gives a dlq without an admin token a generated one', () => {
    const adapted = adapt(manifests(service('dlq', [v('ROLE', 'dlq'), v('DLQ_STORE', 'file')])));
    assert.deepEqual([...adapted.generatedTokens], [['dlq', 'generated-token-0123456789']]);
    assert.deepEqual(adapted.manifests.services[0]?.env.find((e) => e.name === 'DLQ_ADMIN_TOKEN')?.source, {
      value: 'generated-token-0123456789',
    });
  });

  it('turns Vault direct mode into reading the local files, and requires some', () => {
    const direct = manifests(
      service('handler', [
        v('ROLE', 'handler'),
        v('VAULT_ADDR', 'https://vault:8200'),
        v('VAULT_ROLE', 'r'),
        v('VAULT_SECRET_PATHS', 'secret/data/app'),
        v('VAULT_REFRESH_SECONDS', '60'),
      ]),
    );
    const adapted = adapt(direct);
    assert.deepEqual(
      adapted.manifests.services[0]?.env.map((e) => e.name),
      ['ROLE', 'VAULT_REFRESH_SECONDS'],
    );
    assert.deepEqual(adapted.vaultDirect, ['handler']);
    assert.deepEqual([...findMissing(adapted, noSecrets).files.keys()], ['vault']);
    assert.equal(findMissing(adapted, { file: 'f', files: { app: { K: 'v' } }, secrets: {} }).reasons.length, 0);
  });
});
