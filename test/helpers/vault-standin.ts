// A loopback HTTP server standing in for HashiCorp Vault (which cannot run here). It speaks the part of
// Vault's documented HTTP API the runtime uses, with Vault's answer shapes:
//   POST /v1/auth/<mount>/login {role, jwt}  → {auth: {client_token, lease_duration, renewable}}
//   POST /v1/auth/token/renew-self            → {auth: {...}} for the X-Vault-Token token
//   GET  /v1/auth/token/lookup-self           → {data: {ttl, renewable}}
//   GET  /v1/<mount>/data/<path> (KV v2)      → {data: {data: {...}, metadata: {version}}}
//   GET  /v1/<mount>/<path>      (KV v1)      → {data: {...}}
//   errors: {"errors": [...]} with 400 (bad login), 403 (permission denied), 404 (no such path), 503 (sealed).
// And it fails on demand: login refused, tokens expired, sealed, slow, renewal refused.
import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface VaultStandinOptions {
  readonly mount?: string;
  readonly role?: string;
  readonly jwt?: string;
  readonly leaseSeconds?: number;
  readonly renewable?: boolean;
  /** Serve HTTPS with this key and certificate. */
  readonly tls?: { key: string; cert: string };
}

export interface RecordedVaultCall {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

export interface VaultStandin {
  readonly url: string;
  readonly calls: RecordedVaultCall[];
  /** KV v2 secret at `<mount>/data/<path>`: each call is a new version. */
  putKv2(mount: string, path: string, data: Record<string, unknown>): void;
  /** KV v1 secret at `<mount>/<path>`. */
  putKv1(mount: string, path: string, data: Record<string, unknown>): void;
  /** Fail modes, all off by default. */
  readonly fail: { login: boolean; sealed: boolean; renew: boolean; delayMs: number };
  /** Every token issued so far stops working (as when its TTL ran out or it was revoked). */
  expireTokens(): void;
  count(pathPart: string): number;
  /** Every token issued, for leak checks. */
  issuedTokens(): string[];
  close(): Promise<void>;
}

export async function startVaultStandin(options: VaultStandinOptions = {}): Promise<VaultStandin> {
  const mount = options.mount ?? 'kubernetes';
  const role = options.role ?? 'knative-events';
  const jwt = options.jwt ?? 'test-jwt';
  const leaseSeconds = options.leaseSeconds ?? 3600;
  const renewable = options.renewable ?? true;
  const calls: RecordedVaultCall[] = [];
  const kv = new Map<string, { version: 1 | 2; data: Record<string, unknown>; revision: number }>();
  const tokens = new Map<string, { valid: boolean; expiresAt: number }>();
  const fail = { login: false, sealed: false, renew: false, delayMs: 0 };

  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const send = (status: number, payload: unknown) => {
      calls.push({ method: req.method ?? '', path, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const errors = (status: number, ...messages: string[]) => send(status, { errors: messages });
    if (fail.sealed) return errors(503, 'Vault is sealed');

    const login = new RegExp(`^/v1/auth/${mount}/login$`);
    if (req.method === 'POST' && login.test(path)) {
      let parsed: { role?: string; jwt?: string };
      try {
        parsed = JSON.parse(body || '{}') as { role?: string; jwt?: string };
      } catch {
        return errors(400, 'failed to parse JSON input');
      }
      if (parsed.role !== role) return errors(400, `invalid role name "${parsed.role ?? ''}"`);
      if (fail.login || parsed.jwt !== jwt) return errors(403, 'permission denied');
      const token = `hvs.${randomBytes(12).toString('hex')}`;
      tokens.set(token, { valid: true, expiresAt: Date.now() + leaseSeconds * 1000 });
      return send(200, {
        auth: { client_token: token, accessor: 'acc', policies: ['default'], lease_duration: leaseSeconds, renewable },
      });
    }
    if (path.startsWith('/v1/auth/') && req.method === 'POST' && !path.startsWith('/v1/auth/token/'))
      return errors(405, 'unsupported path');

    const token = req.headers['x-vault-token'];
    const entry = typeof token === 'string' ? tokens.get(token) : undefined;
    if (!entry || !entry.valid || entry.expiresAt < Date.now()) return errors(403, 'permission denied');

    if (req.method === 'POST' && path === '/v1/auth/token/renew-self') {
      if (fail.renew || !renewable) return errors(400, 'lease is not renewable');
      entry.expiresAt = Date.now() + leaseSeconds * 1000;
      return send(200, { auth: { client_token: token, lease_duration: leaseSeconds, renewable } });
    }
    if (req.method === 'GET' && path === '/v1/auth/token/lookup-self') {
      return send(200, { data: { ttl: Math.max(0, Math.round((entry.expiresAt - Date.now()) / 1000)), renewable } });
    }
    if (req.method === 'GET' && path.startsWith('/v1/')) {
      const secret = kv.get(path.slice('/v1/'.length));
      if (!secret) return errors(404);
      if (secret.version === 1)
        return send(200, { request_id: 'r', lease_duration: 2764800, renewable: false, data: secret.data });
      return send(200, {
        request_id: 'r',
        lease_duration: 0,
        renewable: false,
        data: {
          data: secret.data,
          metadata: {
            created_time: new Date().toISOString(),
            deletion_time: '',
            destroyed: false,
            version: secret.revision,
          },
        },
      });
    }
    return errors(404);
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (fail.delayMs > 0) setTimeout(() => answer(req, res, body), fail.delayMs);
      else answer(req, res, body);
    });
  };
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    calls,
    fail,
    putKv2(m, path, data) {
      const key = `${m}/data/${path}`;
      kv.set(key, { version: 2, data, revision: (kv.get(key)?.revision ?? 0) + 1 });
    },
    putKv1(m, path, data) {
      kv.set(`${m}/${path}`, { version: 1, data, revision: 1 });
    },
    expireTokens() {
      for (const entry of tokens.values()) entry.valid = false;
    },
    count: (part) => calls.filter((c) => c.path.includes(part)).length,
    issuedTokens: () => [...tokens.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
