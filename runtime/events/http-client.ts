// The outbound HTTP client: one keep-alive agent per process, so forwarding to the broker or a KafkaSink
// reuses connections. Built on node:http rather than undici: the undici package adds ~1 MiB to the bundle
// (fetch, websockets, caches we don't use), paid on every cold start. Passed in as `HttpPoster` so tests
// can swap it.
import http from 'node:http';
import type https from 'node:https';

export interface PostResult {
  readonly status: number;
  /** The start of the response body, for logs and dead-letter diagnostics; empty for a 2xx answer. */
  readonly body: string;
}

/**
 * A request body: one piece, or pieces written in order as they are (a structured event's envelope around its
 * data bytes goes out without first being copied into one buffer).
 */
export type PostBody = string | Uint8Array | readonly (string | Uint8Array)[];

export interface HttpPoster {
  post(url: string, headers: Record<string, string>, body: PostBody, timeoutMs: number): Promise<PostResult>;
  close(): Promise<void>;
}

/** A timeout is reported with this code so the sender can tell it from a connection failure. */
export const timeoutCode = 'ETIMEDOUT_RESPONSE';
const maxBodyKept = 1024;

/**
 * Idle pooled sockets are closed after this. A receiver that closes idle connections itself (Node's default is 5 s,
 * Go's and Envoy's are longer) would otherwise race us: it closes the socket just as we send on it. Closing first,
 * below the shortest of those, makes that race rare; `post` replays the one request it can still hit.
 */
export const idleSocketMs = 4000;

/** What `http.request` needs for one URL, worked out once: the URL of a sender never changes. */
interface Target {
  readonly request: typeof http.request;
  readonly options: http.RequestOptions;
  /** The headers Node adds itself for these options when given an object (Host, Authorization), in its order. */
  readonly implicitHeaders: readonly string[];
}

type Agents = { readonly http: http.Agent; https?: https.Agent };

export interface HttpPosterOptions {
  /** Sockets per host; 256 by default. */
  readonly maxSockets?: number;
  /** How long a pooled socket may sit idle; idleSocketMs by default. */
  readonly idleSocketMs?: number;
}

function agentOptions(options: HttpPosterOptions): http.AgentOptions {
  return {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: options.maxSockets ?? 256,
    maxFreeSockets: 64,
    timeout: options.idleSocketMs ?? idleSocketMs,
    // The most recently used socket first: the rest stay idle and time out when the load drops.
    scheduling: 'lifo',
  };
}

/**
 * The target of a URL. node:https is loaded on the first https URL only: a process that posts over plain HTTP
 * (the broker and KafkaSinks inside the cluster) never pays its module load at start-up.
 */
function targetFor(url: string, agents: Agents, poster: HttpPosterOptions): Target {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:';
  let request: typeof http.request = http.request;
  let agent: http.Agent = agents.http;
  if (secure) {
    const httpsModule = process.getBuiltinModule('node:https');
    agents.https ??= new httpsModule.Agent(agentOptions(poster));
    request = httpsModule.request;
    agent = agents.https;
  }
  const options: http.RequestOptions = {
    method: 'POST',
    protocol: parsed.protocol,
    hostname: parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname,
    port: parsed.port || (secure ? 443 : 80),
    path: `${parsed.pathname}${parsed.search}`,
    agent,
  };
  const implicitHeaders = ['Host', hostHeader(options.hostname as string, parsed.port)];
  if (parsed.username || parsed.password) {
    // For headers given as an object (headerList), Node adds it from here; for a list, the list carries it.
    options.auth = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    implicitHeaders.push('Authorization', `Basic ${Buffer.from(options.auth).toString('base64')}`);
  }
  return { request, options, implicitHeaders };
}

/** Node's own Host header for a hostname and the URL's port (empty when it is the scheme's default). */
function hostHeader(hostname: string, port: string): string {
  const bracketed = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  return port ? `${bracketed}:${port}` : bracketed;
}

/** Headers whose presence changes what Node adds (Host, Authorization) or that the client sets (Content-Length). */
const nodeDecides = new Set(['host', 'authorization', 'content-length']);
const mayBeNodeDecides = (name: string) =>
  (name.length === 4 || name.length === 13 || name.length === 14) && nodeDecides.has(name.toLowerCase());

/**
 * The request's headers as Node's raw list: given a list, http.request writes the head at once, without the
 * setHeader per header (lower-casing, validating, storing) that it does for an object, then again while writing
 * (≈ 10k instructions an outbound event, callgrind). Node still validates every name and value. The same head on
 * the wire: the caller's headers in their order, Content-Length, then what Node adds for an object. A caller
 * that sets Host, Authorization or Content-Length itself (OTEL_EXPORTER_OTLP_HEADERS may) gets Node's own
 * handling of an object, as before.
 */
function headerList(
  target: Target,
  headers: Record<string, string>,
  contentLength: number,
): readonly string[] | Record<string, string> {
  const list: string[] = [];
  for (const name in headers) {
    if (mayBeNodeDecides(name)) return { ...headers, 'content-length': String(contentLength) };
    list.push(name, headers[name] as string);
  }
  list.push('content-length', String(contentLength), ...target.implicitHeaders);
  return list;
}

const lengthOf = (piece: string | Uint8Array) => (typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length);

function bodyLength(body: PostBody): number {
  if (typeof body === 'string' || body instanceof Uint8Array) return lengthOf(body);
  let length = 0;
  for (const piece of body) length += lengthOf(piece);
  return length;
}

function writeBody(req: http.ClientRequest, body: PostBody): void {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    req.end(body);
    return;
  }
  // Written before the socket is assigned, so Node sends the head and every piece in one writev.
  for (const piece of body) req.write(piece);
  req.end();
}

export function createHttpPoster(options: HttpPosterOptions = {}): HttpPoster {
  const agents: Agents = { http: new http.Agent(agentOptions(options)) };
  // Bounded: a dlq replays to the subscribers it was given, a handful of URLs; never more than this many kept.
  const targets = new Map<string, Target>();
  const targetOf = (url: string): Target => {
    let target = targets.get(url);
    if (target === undefined) {
      if (targets.size >= 64) targets.clear();
      targets.set(url, (target = targetFor(url, agents, options)));
    }
    return target;
  };
  return {
    post(url, headers, body, timeoutMs) {
      let target: Target;
      try {
        target = targetOf(url);
      } catch (err) {
        // An invalid URL fails the call like a connection error, as a rejection.
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return exchange(target, headerList(target, headers, bodyLength(body)), body, timeoutMs);
    },
    close() {
      agents.http.destroy();
      agents.https?.destroy();
      return Promise.resolve();
    },
  };
}

/**
 * One POST and its whole answer, within `timeoutMs` (connect, send, the full response). A pooled socket the
 * receiver closed while it sat idle fails at once with ECONNRESET and no answer: the request never reached
 * anyone, so it is sent once more on a fresh socket, inside the same deadline, instead of failing the attempt.
 */
function exchange(
  target: Target,
  headers: readonly string[] | Record<string, string>,
  body: PostBody,
  timeoutMs: number,
): Promise<PostResult> {
  return new Promise((resolve, reject) => new Exchange(target, headers, body, resolve, reject).start(timeoutMs));
}

/**
 * The state of one exchange. A class, so that settling and sending are shared methods: the bundle names every
 * closure it creates (≈ 4,000 instructions each: a defineProperty that makes the function a dictionary-mode
 * object), and these ran for every outbound event.
 */
class Exchange {
  private req: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: Target,
    private readonly headers: readonly string[] | Record<string, string>,
    private readonly body: PostBody,
    private readonly resolve: (result: PostResult) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  start(timeoutMs: number): void {
    this.timer = setTimeout(() => {
      this.req?.destroy(Object.assign(new Error(`no complete answer within ${timeoutMs} ms`), { code: timeoutCode }));
    }, timeoutMs);
    this.send(false);
  }

  settle(err: Error | undefined, result?: PostResult): void {
    clearTimeout(this.timer);
    if (err) this.reject(err);
    else this.resolve(result as PostResult);
  }

  private send(replay: boolean): void {
    let sent: http.ClientRequest;
    try {
      // Throws at once on a header Node will not send (ERR_INVALID_CHAR): a failed attempt like any other.
      sent = this.req = this.target.request({ ...this.target.options, headers: this.headers }, (res) =>
        readAnswer(res, this),
      );
    } catch (err) {
      this.settle(err as Error);
      return;
    }
    sent.on('error', (err: NodeJS.ErrnoException) => {
      if (!replay && sent.reusedSocket && staleSocketCodes.has(err.code ?? '')) this.send(true);
      else this.settle(err);
    });
    writeBody(sent, this.body);
  }
}

/** What sending on a socket the other end has closed fails with. */
const staleSocketCodes = new Set(['ECONNRESET', 'EPIPE']);

/** The status, and the start of the body of an answer that is not 2xx (a 2xx body is read and dropped). */
function readAnswer(res: http.IncomingMessage, exchange: Pick<Exchange, 'settle'>): void {
  const status = res.statusCode ?? 0;
  const chunks: Buffer[] = [];
  let kept = status >= 200 && status < 300 ? maxBodyKept : 0;
  res.on('data', (chunk: Buffer) => {
    if (kept < maxBodyKept) {
      chunks.push(chunk);
      kept += chunk.length;
    }
  });
  res.on('end', () => {
    const text = chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8').slice(0, maxBodyKept);
    exchange.settle(undefined, { status, body: text });
  });
  res.on('error', (err) => exchange.settle(err));
}
