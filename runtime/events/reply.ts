// A function's result → the HTTP answer. A CloudEvent (or `reply(...)`) goes back in binary mode, which is
// how Knative takes a reply event from a subscriber and publishes it into the broker.
import { CloudEvent, HTTP, ValidationError } from 'cloudevents';
import type Koa from 'koa';
import { isReply } from '../function-api.js';
import { HttpError } from '../http/errors.js';

export function toReplyEvent(result: unknown, defaults: { source: string; newId: () => string; now: () => Date }): CloudEvent<unknown> | undefined {
  if (result instanceof CloudEvent) return result;
  if (!isReply(result)) return undefined;
  const attributes: Record<string, unknown> = { ...result };
  attributes.source ??= defaults.source;
  attributes.id ??= defaults.newId();
  attributes.time ??= defaults.now().toISOString();
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

export function writeResult(ctx: Koa.Context, result: unknown, defaults: ResultOptions): void {
  if (result === undefined || result === null) {
    ctx.status = 204;
    return;
  }
  const event = toReplyEvent(result, defaults);
  if (event) {
    const message = HTTP.binary(event);
    for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) ctx.set(name, String(value));
    ctx.status = 200;
    ctx.body = typeof message.body === 'string' || Buffer.isBuffer(message.body) ? message.body : message.body === undefined ? '' : JSON.stringify(message.body);
    ctx.state.reply = event;
    return;
  }
  if (defaults.plainResult === 'discard') {
    ctx.status = 204;
    return;
  }
  ctx.status = 200;
  ctx.body = result;
}
