// The local KafkaSink ingress: POST a CloudEvent to /<namespace>/<sink> → 202 once the record is written;
// not a valid CloudEvent → 400. Each record is appended to a JSON-lines file per topic, as Kafka would
// store it (CloudEvents Kafka protocol binding):
//   binary mode:     headers ce_<attribute> for every attribute and extension, content-type = datacontenttype,
//                    value = the data bytes;
//   structured mode: header content-type: application/cloudevents+json; charset=UTF-8, value = the event as JSON;
//   key = the partitionkey extension (null without one).
// `value` is the UTF-8 text of the bytes; bytes that are not UTF-8 are written as `valueBase64` instead.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import { parseContentType } from '../runtime/events/content-type.js';
import { parseCloudEvent } from '../runtime/events/parse.js';
import { serialise } from '../runtime/events/sender.js';
import { HttpError } from '../runtime/http/errors.js';
import type { ComponentLog } from './log.js';
import type { SinkPlan } from './plan.js';

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly value?: string;
  readonly valueBase64?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bodyOf(bytes: Buffer): { value: string } | { valueBase64: string } {
  try {
    return { value: utf8.decode(bytes) };
  } catch {
    return { valueBase64: bytes.toString('base64') };
  }
}

/** The Kafka record a KafkaSink in `mode` writes for `event`. `rawBinaryBody` keeps the exact bytes of a binary-mode request. */
export function toRecord(
  event: CloudEvent<unknown>,
  mode: 'binary' | 'structured',
  where: { topic: string; offset: number; timestamp: string },
  rawBinaryBody?: Buffer,
): KafkaRecord {
  const message = serialise(event, mode);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'content-type') headers['content-type'] = value;
    else if (mode === 'binary' && lower.startsWith('ce-')) headers[`ce_${lower.slice(3)}`] = value;
  }
  const bytes =
    mode === 'binary' && rawBinaryBody
      ? rawBinaryBody
      : Buffer.isBuffer(message.body)
        ? message.body
        : Buffer.from(message.body, 'utf8');
  const key = (event as unknown as Record<string, unknown>).partitionkey;
  return {
    topic: where.topic,
    partition: 0,
    offset: where.offset,
    timestamp: where.timestamp,
    key:
      key === undefined
        ? null
        : typeof key === 'string'
          ? key
          : typeof key === 'number' || typeof key === 'boolean'
            ? String(key)
            : JSON.stringify(key),
    headers,
    ...bodyOf(bytes),
  };
}

export interface KafkaSinkIngress {
  handle(req: IncomingMessage, body: Buffer): Promise<{ status: number; body?: unknown }>;
}

export async function createKafkaSinkIngress(
  sinks: readonly SinkPlan[],
  deps: { log: ComponentLog; now?: () => Date },
): Promise<KafkaSinkIngress> {
  const now = deps.now ?? (() => new Date());
  const byPath = new Map(sinks.map((s) => [s.path, s]));
  // Appends to one file are chained so offsets and lines stay in order.
  const tails = new Map<string, Promise<unknown>>();
  const offsets = new Map<string, number>();
  for (const s of sinks) {
    await mkdir(dirname(s.file), { recursive: true });
    const existing = await readFile(s.file, 'utf8').catch(() => '');
    offsets.set(s.file, existing.split('\n').filter(Boolean).length);
  }
  return {
    async handle(req, body) {
      const path = (req.url ?? '/').split('?')[0]?.replace(/\/$/, '') ?? '';
      const sink = byPath.get(path);
      if (!sink)
        return {
          status: 404,
          body: { error: 'not_found', message: `no KafkaSink at ${path}; sinks: ${[...byPath.keys()].join(', ')}` },
        };
      if (req.method !== 'POST')
        return { status: 405, body: { error: 'method_not_allowed', message: 'POST a CloudEvent' } };
      let event: CloudEvent<unknown>;
      try {
        event = parseCloudEvent(req.headers, body, { legacy: false, requireJson: false, newId: randomUUID, now });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        deps.log.warn(`${sink.name} rejected a request: ${err.message}`);
        return { status: 400, body: { error: err.type, message: err.message } };
      }
      const wasBinary = !parseContentType(req.headers['content-type'])?.structured;
      const write = (tails.get(sink.file) ?? Promise.resolve()).then(async () => {
        const offset = offsets.get(sink.file) ?? 0;
        const record = toRecord(
          event,
          sink.contentMode,
          { topic: sink.topic, offset, timestamp: now().toISOString() },
          wasBinary ? body : undefined,
        );
        await appendFile(sink.file, `${JSON.stringify(record)}\n`);
        offsets.set(sink.file, offset + 1);
        return record;
      });
      tails.set(
        sink.file,
        write.catch(() => undefined),
      );
      const record = await write;
      deps.log.info(
        `${event.type} → topic ${sink.topic} offset ${record.offset}${record.key === null ? '' : ` key ${record.key}`}`,
        { eventId: event.id, sink: sink.name },
      );
      return { status: 202 };
    },
  };
}
