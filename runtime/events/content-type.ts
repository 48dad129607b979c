// Content types as the wire sends them (`application/json; charset=utf-8`, `application/vnd.x+json`)
// reduced to what decides how a body is read. The SDK matches content types exactly; we don't.

export interface ContentType {
  /** The media type, lowercased, without parameters. */
  readonly mime: string;
  readonly structured: boolean;
  readonly batch: boolean;
  readonly json: boolean;
  readonly text: boolean;
}

export function parseContentType(header: string | undefined): ContentType | undefined {
  if (header === undefined) return undefined;
  const mime = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (mime === '') return undefined;
  const structured = mime === 'application/cloudevents+json';
  const batch = mime === 'application/cloudevents-batch+json';
  const json = mime === 'application/json' || mime === 'text/json' || mime.endsWith('+json');
  const text = mime.startsWith('text/');
  return { mime, structured, batch, json, text };
}
