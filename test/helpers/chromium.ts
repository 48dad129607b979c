// Headless Chromium for the console tests: Debian's `chromium` (installed by .ci/run), driven by
// playwright-core, which downloads no browser of its own. A fresh profile per launch, no network the page
// does not ask for, and screenshots under test-output/ (gitignored).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, BrowserType } from 'playwright-core';

// Required, not imported: an ESM import of this CommonJS package first scans its 2.5 MB bundle for the names it
// exports (cjs-module-lexer, ~0.4 s of CPU per test file), which require() does not.
const { chromium } = createRequire(import.meta.url)('playwright-core') as { chromium: BrowserType };

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const testOutput = fileURLToPath(new URL('../../test-output/', import.meta.url));
/** Starts chromium with the --disable-features switches merged (see there). */
const mergedFeatures = fileURLToPath(new URL('chromium-merged-features.sh', import.meta.url));

export interface HeadlessChromium {
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

/** A persistent context on a fresh --user-data-dir (removed on close): nothing carries over between tests. */
export async function launchChromium(): Promise<HeadlessChromium> {
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  const profile = mkdtempSync(join(tmpdir(), 'knative-events-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: mergedFeatures,
    env: { ...process.env, CHROMIUM: chromiumPath },
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The address bar's popup, which a headless browser never shows: Chromium preloads it as a WebUI page in
      // a renderer of its own at every launch (~1 s of CPU, measured with and without).
      '--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup',
    ],
    viewport: { width: 1366, height: 768 },
    timeout: 60_000,
  });
  return {
    browser: context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name: string): string {
  const dir = join(testOutput, 'dlq-console');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}

export type { Browser };
