// The four Vault calls direct mode makes, through node-vault. node-vault (and axios inside it) is imported
// only here and only when this module is first used, so processes without direct mode never load it.
// Every failure becomes a VaultCallError whose message is built from the status, Vault's own error text and
// the network error code: axios errors carry the request (token header, login JWT) and are never passed on.
import type { SecretsFailureReason } from './store.js';

export interface VaultLease {
  readonly leaseSeconds: number;
  readonly renewable: boolean;
}

export interface VaultApi {
  /** Kubernetes auth login; the client keeps the token for the calls that follow. */
  login(mount: string, role: string, jwt: string): Promise<VaultLease>;
  renewSelf(): Promise<VaultLease>;
  lookupSelf(): Promise<{ readonly ttlSeconds: number }>;
  /** GET /v1/<path>: the response body. */
  read(path: string): Promise<unknown>;
}

export class VaultCallError extends Error {
  readonly reason: SecretsFailureReason;
  readonly status: number | undefined;
  constructor(message: string, reason: SecretsFailureReason, status?: number) {
    super(message);
    this.name = 'VaultCallError';
    this.reason = reason;
    this.status = status;
  }
}

export interface NodeVaultOptions {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly ca: string | undefined;
  readonly skipVerify: boolean;
  readonly timeoutMs: number;
}

const reasonByStatus: Record<number, SecretsFailureReason> = { 403: 'denied', 404: 'not_found', 503: 'sealed' };

/** Vault's first error text, shortened: it names what failed ("permission denied"), never a value. */
function vaultMessage(body: unknown): string | undefined {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  const first = Array.isArray(errors) ? errors.find((e) => typeof e === 'string') : undefined;
  return typeof first === 'string' ? first.replace(/\s+/g, ' ').slice(0, 200) : undefined;
}

export function toVaultCallError(what: string, err: unknown): VaultCallError {
  if (err instanceof VaultCallError) return err;
  const e = err as { response?: { statusCode?: number; body?: unknown }; code?: string; message?: string };
  const status = e.response?.statusCode;
  if (typeof status === 'number') {
    const text = vaultMessage(e.response?.body);
    return new VaultCallError(
      `${what}: Vault answered ${status}${text ? ` (${text})` : ''}`,
      reasonByStatus[status] ?? 'bad_response',
      status,
    );
  }
  const code = e.code ?? '';
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(e.message ?? ''))
    return new VaultCallError(`${what}: Vault did not answer in time`, 'timeout');
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code))
    return new VaultCallError(
      `${what}: TLS verification failed (${code}); set VAULT_CACERT to the CA that signed Vault's certificate`,
      'unreachable',
    );
  return new VaultCallError(`${what}: Vault is unreachable${code ? ` (${code})` : ''}`, 'unreachable');
}

function leaseOf(what: string, body: unknown): VaultLease {
  const auth = (
    body as { auth?: { client_token?: unknown; lease_duration?: unknown; renewable?: unknown } } | undefined
  )?.auth;
  if (!auth || typeof auth.client_token !== 'string' || typeof auth.lease_duration !== 'number') {
    throw new VaultCallError(
      `${what}: Vault's answer has no auth.client_token and auth.lease_duration`,
      'bad_response',
    );
  }
  return { leaseSeconds: auth.lease_duration, renewable: auth.renewable === true };
}

export async function createNodeVaultApi(options: NodeVaultOptions): Promise<VaultApi> {
  const { default: nodeVault } = await import('node-vault');
  const client = nodeVault({
    apiVersion: 'v1',
    endpoint: options.address,
    namespace: options.namespace,
    // node-vault's default debug output (DEBUG=node-vault) prints request bodies, the login JWT among them.
    debug: () => {},
    // node-vault turns verification off when VAULT_SKIP_VERIFY is set to anything, even "false": say it explicitly.
    rpDefaults: { strictSSL: !options.skipVerify, timeout: options.timeoutMs },
    requestOptions: {
      strictSSL: !options.skipVerify,
      timeout: options.timeoutMs,
      ...(options.ca ? { ca: options.ca } : {}),
    },
  } as Parameters<typeof nodeVault>[0]);
  // node-vault falls back to VAULT_TOKEN from the environment; direct mode uses only the token it logs in for.
  client.token = '';

  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw toVaultCallError(what, err);
    }
  };
  return {
    login: (mount, role, jwt) =>
      call('Kubernetes login', async () =>
        leaseOf('Kubernetes login', await client.kubernetesLogin({ role, jwt, mount_point: mount })),
      ),
    renewSelf: () => call('token renew-self', async () => leaseOf('token renew-self', await client.tokenRenewSelf())),
    lookupSelf: () =>
      call('token lookup-self', async () => {
        const answer = (await client.tokenLookupSelf()) as { data?: { ttl?: unknown } } | undefined;
        const ttl = answer?.data?.ttl;
        return { ttlSeconds: typeof ttl === 'number' ? ttl : 0 };
      }),
    read: (path) => call(`read ${path}`, () => client.read(path)),
  };
}
