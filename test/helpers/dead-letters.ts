// Dead letters as Knative delivers them (binary CloudEvents with the knativeerror* extensions), the dlq's
// admin API, and waiting for a condition with a deadline: shared by the dlq tests of every store.
import { lightPost } from './light-post.js';
import { waitFor as sharedWaitFor } from './wait.js';

export interface DeadLetterInput {
  readonly id: string;
  readonly type?: string;
  readonly source?: string;
  readonly code?: string;
  readonly dest?: string;
  readonly body?: string;
  readonly data?: unknown;
}

export interface Sent {
  readonly status: number;
  readonly text: string;
  /** x-dead-letter-id: the stored id (for a duplicate, the one stored first). */
  readonly id: string | null;
  readonly retryAfter: string | null;
}

/** The headers and body Knative sends a dead-letter sink for `input`. */
function deadLetterRequest(input: DeadLetterInput): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': input.id,
      'ce-type': input.type ?? 'com.example.trade',
      'ce-source': input.source ?? '/provider',
      'ce-knativeerrordest': input.dest ?? 'http://transform.default.svc.cluster.local',
      'ce-knativeerrorcode': input.code ?? '422',
      'ce-knativeerrordata': Buffer.from(input.body ?? '{"success":false}').toString('base64'),
    },
    body: JSON.stringify(input.data ?? { n: input.id }),
  };
}

export async function sendDeadLetter(url: string, input: DeadLetterInput, signal?: AbortSignal): Promise<Sent> {
  const { headers, body } = deadLetterRequest(input);
  const res = await fetch(url, { method: 'POST', headers, body, signal });
  return {
    status: res.status,
    text: await res.text(),
    id: res.headers.get('x-dead-letter-id'),
    retryAfter: res.headers.get('retry-after'),
  };
}

/**
 * sendDeadLetter over node:http (test/helpers/light-post.ts) instead of fetch: the same request and answer, at
 * about a quarter of the CPU per request on loopback. For the tests that send dead letters by the hundred.
 */
export async function postDeadLetter(url: string, input: DeadLetterInput, signal?: AbortSignal): Promise<Sent> {
  const { headers, body } = deadLetterRequest(input);
  const res = await lightPost(url, headers, body, signal);
  return {
    status: res.status,
    text: res.text,
    id: res.header('x-dead-letter-id'),
    retryAfter: res.header('retry-after'),
  };
}

export interface AdminAnswer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly headers: Headers;
}

export async function adminCall(url: string, token: string, path: string, method = 'GET'): Promise<AdminAnswer> {
  const res = await fetch(new URL(path, url), { method, headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Every page of GET /dead-letters (with `query`), newest first. */
export async function listAll(
  url: string,
  token: string,
  query = '',
): Promise<Array<{ id: string; eventId: string | null; [key: string]: unknown }>> {
  const items = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const res: AdminAnswer = await adminCall(
      url,
      token,
      `/dead-letters?limit=500${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (res.status !== 200) throw new Error(`GET /dead-letters answered ${res.status}: ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    if (cursor === null) return items;
  }
  throw new Error('GET /dead-letters never ended');
}

/**
 * Polls `check` until it returns a value other than undefined, or fails after `deadlineMs` saying what it waited
 * for: test/helpers/wait.ts waitFor, with the argument order the dlq tests use (and `false` or `null` a value).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  deadlineMs = 15_000,
): Promise<T> {
  const found = await sharedWaitFor(
    async () => {
      const value = await check();
      return value === undefined ? undefined : { value };
    },
    deadlineMs,
    { what, intervalMs: 50 },
  );
  return found.value;
}

export async function readyStatus(url: string): Promise<number> {
  const res = await fetch(new URL('/readyz', url));
  await res.arrayBuffer();
  return res.status;
}
