// A function's result → the HTTP answer. A CloudEvent (or `reply(...)`) goes back in binary mode, which is
// how Knative takes a reply event from a subscriber and publishes it into the broker; written by the same
// serialiser as every outgoing event (percent-encoded headers, data in its own content type).
import { CloudEvent, ValidationError } from 'cloudevents';
import { isReply } from '../function-api.js';
import { HttpError } from '../http/errors.js';
import { isoString } from './iso-time.js';
import { serialise } from './sender.js';
import type { WireEvent } from './wire-event.js';
import type { RequestContext } from '../http/request-state.js';

export function toReplyEvent(
  result: unknown,
  defaults: { source: string; newId: () => string; now: () => Date },
  origin?: { readonly event: CloudEvent<unknown> },
): CloudEvent<unknown> | undefined {
  if (result instanceof CloudEvent) return result;
  if (!isReply(result)) return undefined;
  const attributes: Record<string, unknown> = { ...result };
  // The incoming data passed on as it is keeps its content type (XML stays XML, not "application/json").
  if (origin && attributes.data !== undefined && attributes.data === origin.event.data)
    attributes.datacontenttype ??= origin.event.datacontenttype;
  attributes.source ??= defaults.source;
  attributes.id ??= defaults.newId();
  attributes.time ??= isoString(defaults.now().getTime());
  attributes.specversion = '1.0';
  if (attributes.data !== undefined && attributes.datacontenttype === undefined && !Buffer.isBuffer(attributes.data)) {
    attributes.datacontenttype = 'application/json';
  }
  try {
    return new CloudEvent<unknown>(attributes, true);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof TypeError) {
      throw new HttpError(500, 'function_error', `the function returned an invalid reply event: ${err.message}`);
    }
    throw err;
  }
}

export interface ResultOptions {
  readonly source: string;
  readonly newId: () => string;
  readonly now: () => Date;
  /** `discard`: a plain result is not sent back (204), for dispatchers that accept only CloudEvent bodies. */
  readonly plainResult?: 'json' | 'discard';
}

/** The event the function was given and how it came: a reply that carries its data unchanged sends those bytes. */
export interface ResultOrigin {
  readonly event: CloudEvent<unknown>;
  readonly wire: WireEvent;
}

export function writeResult(
  ctx: RequestContext,
  result: unknown,
  defaults: ResultOptions,
  origin?: ResultOrigin,
): void {
  // ctx.response, not Koa's delegating ctx.status/ctx.body/ctx.set (see RequestContext)
  const { response } = ctx;
  if (result === undefined || result === null) {
    response.status = 204;
    return;
  }
  const event = toReplyEvent(result, defaults, origin);
  if (event) {
    const message = serialise(event, 'binary', origin);
    // Body first: Koa sets its own Content-Type for a Buffer body, which the event's must replace.
    response.body = message.body;
    for (const [name, value] of Object.entries(message.headers)) response.set(name, value);
    if (message.headers['content-type'] === undefined) response.remove('content-type');
    response.status = 200;
    ctx.state.reply = event;
    return;
  }
  if (defaults.plainResult === 'discard') {
    response.status = 204;
    return;
  }
  response.status = 200;
  const incoming = origin?.wire.data;
  if (incoming !== undefined && result === origin?.event.data) {
    // The data given back unchanged: its own bytes in its own content type, not a JSON rendering of them.
    // set(), not ctx.type: Koa's type setter appends a charset of its own choosing. Before the body: Koa's body
    // setter then keeps it rather than looking up a type of its own for a Buffer (a mime lookup per request).
    response.set(
      'Content-Type',
      origin?.wire.datacontenttype ?? (incoming.kind === 'json' ? 'application/json' : 'application/octet-stream'),
    );
    response.body = incoming.bytes;
    return;
  }
  response.body = result;
}
