// One error type for every failure a request can end in. The status tells the caller whether to retry
// (4xx: the request is wrong, don't; 5xx: try again), `type` is a stable code clients can switch on, and
// `expose` says whether `message` is safe to send (it is for everything we raise on purpose).

export type ErrorType =
  | 'bad_request'
  | 'invalid_json'
  | 'invalid_event'
  | 'missing_attributes'
  | 'unsupported_specversion'
  | 'empty_body'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'replayed'
  | 'too_many_headers'
  | 'overloaded'
  | 'permanent_failure'
  | 'function_error'
  | 'upstream_rejected'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'store_failed'
  | 'shutting_down'
  | 'internal';

export interface ErrorEnvelope {
  success: false;
  error: { type: ErrorType; message: string; details?: readonly string[] };
}

export class HttpError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly expose: boolean;
  readonly details: readonly string[] | undefined;

  constructor(
    status: number,
    type: ErrorType,
    message: string,
    options: { details?: readonly string[]; cause?: unknown; expose?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.type = type;
    this.expose = options.expose ?? true;
    this.details = options.details;
  }
}

// The bundle keeps identifiers but not esbuild's keepNames (build/build.mjs), and esbuild renames this class
// (another module declares an HttpError): logged errors' `type` is their constructor's name, so it is set here.
Object.defineProperty(HttpError, 'name', { value: 'HttpError' });

export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}

/** The JSON body for a failure. Unexpected errors never leak their message: it may carry internals. */
export function envelopeFor(err: unknown): { status: number; body: ErrorEnvelope } {
  if (isHttpError(err)) {
    const message = err.expose ? err.message : 'internal error';
    const error: ErrorEnvelope['error'] = { type: err.type, message };
    if (err.expose && err.details && err.details.length > 0) error.details = err.details;
    return { status: err.status, body: { success: false, error } };
  }
  return { status: 500, body: { success: false, error: { type: 'internal', message: 'internal error' } } };
}
