// The console's static files (static/: plain HTML, CSS and JavaScript, no build chain). Here they are read from
// disk, which is what tests and `node --import tsx` use; the bundle replaces this module with one holding the
// same files as strings (build/bundle-config.mjs, plugin `embed-dlq-console`), so dist/knative-events.cjs
// needs nothing beside it. admin.ts imports this module only when the page is asked for.
import { readFileSync } from 'node:fs';

export interface ConsoleAsset {
  readonly type: string;
  readonly body: string;
}

/** Served with every console file: the page runs only its own script and style and talks only to this origin. */
export const consoleHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-cache',
};

export const consoleFiles: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

const cache = new Map<string, string>();

export function consoleAsset(name: string): ConsoleAsset | undefined {
  const type = consoleFiles[name];
  if (type === undefined) return undefined;
  let body = cache.get(name);
  if (body === undefined) {
    body = readFileSync(new URL(`./static/${name}`, import.meta.url), 'utf8');
    cache.set(name, body);
  }
  return { type, body };
}
