// The runner's outbound HTTP: one POST with a deadline, answering status, headers and the whole body
// (a reply event can be larger than the 1 KiB the runtime's poster keeps). Passed in as `Post` so tests
// can stand in for the network.

export interface PostResponse {
  readonly status: number;
  /** Lower-case header names, as node:http delivers them to parseCloudEvent. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type Post = (
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
  timeoutMs: number,
) => Promise<PostResponse>;

export class TimeoutError extends Error {
  constructor(url: string, ms: number) {
    super(`no answer from ${url} within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export const fetchPost: Post = async (url, headers, body, timeoutMs) => {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal });
    const out: Record<string, string> = {};
    res.headers.forEach((value, name) => (out[name.toLowerCase()] = value));
    return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
  } catch (err) {
    if (signal.aborted) throw new TimeoutError(url, timeoutMs);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(cause?.code ?? cause?.message ?? (err as Error).message);
  }
};
