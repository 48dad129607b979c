// The dead-letter console in a real browser (Debian's chromium, headless, driven by playwright-core) against a
// running dlq: sign in with the admin token, filter by error code, open a dead letter (attributes, pretty JSON
// data, the failing answer's body), replay it to its destination (the receiver gets exactly one copy), a bulk
// replay job's live progress and its cancel button, purge with a dry-run count, the audit log. Dead letters
// carry markup that must show as text. Screenshots go to test-output/dlq-console/.
// The page is tested once in the browser, on the file store. It only calls the admin HTTP API, and the store is
// behind that API: a second browser pass on the PostgreSQL store ran the page again (about 10 CPU-s, half of
// it Chromium) to test nothing of the store that the API calls themselves do not show. Those calls are tested
// on both stores instead: purge with its dry-run count, the audit log of replays and purges, a replay marked
// on its record, a job's progress and cancel in dlq-replay.test.ts; list, filters, paging and a dead letter's
// detail with the failing answer's body in dlq-postgres.test.ts; data kept as it came (JSON text, bytes as
// base64) and replayed byte for byte in dlq-fidelity.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startBundle } from './helpers/bundle.js';
import { launchChromium, screenshotPath, type HeadlessChromium } from './helpers/chromium.js';
import { adminCall, listAll, postDeadLetter, waitFor } from './helpers/dead-letters.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'console-test-token-0123456789';
const xss = '<img src=x onerror="document.title=\'pwned\'">';

let chromium: HeadlessChromium;
const dirs: string[] = [];

before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function postBinaryDeadLetter(url: string, id: string, dest: string): Promise<void> {
  const bytes = Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x41, 0x42, 0x43, 0x0a, 0x80]);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': 'com.example.blob',
      'ce-source': '/blobs',
      'ce-knativeerrordest': dest,
      'ce-knativeerrorcode': '415',
      'ce-knativeerrordata': Buffer.from('unsupported media type').toString('base64'),
    },
    body: bytes,
  });
  assert.equal(res.status, 202);
}

/** A JSON dead letter sent as written: a number too big for a double and a repeated key, which parsing would lose. */
async function postJsonTextDeadLetter(
  url: string,
  input: { id: string; type: string; source: string; dest: string; answer: string; json: string },
): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': input.id,
      'ce-type': input.type,
      'ce-source': input.source,
      'ce-knativeerrordest': input.dest,
      'ce-knativeerrorcode': '422',
      'ce-knativeerrordata': Buffer.from(input.answer).toString('base64'),
    },
    body: input.json,
  });
  assert.equal(res.status, 202);
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(new URL('/dead-letters/ui', url).href);
  await page.getByLabel('Admin token (DLQ_ADMIN_TOKEN)').fill(token);
  await page.getByLabel('Your name, for the audit log').fill('console-test');
  await page.getByRole('button', { name: 'Open the console' }).click();
  await page.locator('#letters tbody tr').first().waitFor();
}

function rowsText(page: Page): Promise<string[]> {
  return page.locator('#letters tbody tr').allInnerTexts();
}

describe('dlq console (file store)', () => {
  let runtime: RunningRuntime;
  let shipping: Receiver;
  let billing: Receiver;
  let bulk: Receiver;
  let page: Page;

  before(async () => {
    shipping = await startReceiver({ status: 202 });
    billing = await startReceiver({ status: 202 });
    bulk = await startReceiver({ status: 202 });
    const dir = mkdtempSync(join(tmpdir(), 'dlq-console-'));
    dirs.push(dir);
    runtime = await startRuntime({
      ROLE: 'dlq',
      DLQ_ADMIN_TOKEN: token,
      LOG_LEVEL: 'warn',
      DLQ_REPLAY_RATE: '50',
      DLQ_FILE: join(dir, 'dead-letters.jsonl'),
    });
    // What Knative would have dead-lettered: two subscribers refused events (422), one failed (500), a blob.
    await postDeadLetter(runtime.url, {
      id: 'order-1',
      type: 'com.example.order',
      source: '/shop',
      code: '422',
      dest: shipping.url,
      body: '{"success":false,"error":{"message":"no address"}}',
      data: { order: 1, lines: [{ sku: 'A', qty: 2 }] },
    });
    await postDeadLetter(runtime.url, {
      id: 'order-2',
      type: 'com.example.order',
      source: '/shop',
      code: '422',
      dest: shipping.url,
      data: { order: 2 },
    });
    await postDeadLetter(runtime.url, {
      id: 'invoice-1',
      type: 'com.example.invoice',
      source: '/billing',
      code: '500',
      dest: billing.url,
      data: { invoice: 1 },
    });
    await postJsonTextDeadLetter(runtime.url, {
      id: 'markup-1',
      type: xss,
      source: xss,
      dest: billing.url,
      answer: xss,
      json: `{"note":${JSON.stringify(xss)},"n":12345678901234567890,"n":1}`,
    });
    await postBinaryDeadLetter(runtime.url, 'blob-1', billing.url);
    await postDeadLetter(runtime.url, { id: 'purge-1', type: 'purge.me', code: '400', dest: billing.url });
    await postDeadLetter(runtime.url, { id: 'purge-2', type: 'purge.me', code: '400', dest: billing.url });
    page = await chromium.browser.newPage();
    page.setDefaultTimeout(20_000);
    // Only when asked for: with a listener, Playwright sends every console message and finished request over
    // to this process.
    if (process.env.DEBUG_CONSOLE) {
      page.on('console', (m) => console.log('page:', m.text()));
      page.on('requestfinished', async (r) => console.log('req:', r.method(), r.url(), (await r.response())?.status()));
    }
  });
  after(async () => {
    await page?.close();
    await runtime?.stop();
    for (const r of [shipping, billing, bulk]) await r?.close();
  });

  test('serves the page with a strict Content-Security-Policy, and the token is asked for and kept for the tab only', async () => {
    const res = await fetch(new URL('/dead-letters/ui', runtime.url));
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(
      (await fetch(new URL('/dead-letters', runtime.url))).status,
      401,
      'the data itself still needs the token',
    );

    await page.goto(new URL('/dead-letters/ui', runtime.url).href);
    await page.getByLabel('Admin token (DLQ_ADMIN_TOKEN)').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.getByText('The token was refused').waitFor();
    await signIn(page, runtime.url);
    assert.equal(await page.evaluate('window.sessionStorage.getItem("dlq.token")'), token);
    assert.equal(await page.evaluate('window.localStorage.length'), 0, 'nothing kept beyond the tab');
    assert.equal((await rowsText(page)).length, 7);
    // Dead letters are attacker-controlled: their markup is shown as text, never run.
    assert.equal(await page.locator('#letters img').count(), 0);
    assert.ok((await rowsText(page)).some((row) => row.includes(xss)));
    assert.notEqual(await page.title(), 'pwned');
    // Every control has an accessible name (a label, aria-label, or its text).
    const unnamed = await page.evaluate(`[...document.querySelectorAll('input, select, button, textarea')]
        .filter((el) => !el.closest('[hidden]') && !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map((el) => el.outerHTML.slice(0, 80))`);
    assert.deepEqual(unnamed, []);
    await page.screenshot({ path: screenshotPath('1-list') });
  });

  test('filters by error code, opens a dead letter, replays it to its destination: the receiver gets exactly one copy', async () => {
    await page.getByLabel('Error code').fill('422');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor('only the 422s listed', async () => ((await rowsText(page)).length === 3 ? true : undefined));
    for (const row of await rowsText(page)) assert.match(row, /\t422\t/);

    // Keyboard path: the type cell is a button; Enter opens the dead letter, Escape closes it.
    const open = page.locator('#letters tbody tr', { hasText: 'order-1' }).locator('button.open');
    await open.focus();
    await page.keyboard.press('Enter');
    await page.locator('#detail-title', { hasText: 'Dead letter order-1' }).waitFor();
    const attributes = await page.locator('#detail-attributes tbody').innerText();
    assert.match(attributes, /knativeerrordest\s+http:\/\/127\.0\.0\.1/);
    assert.match(attributes, /knativeerrorcode\s+422/);
    assert.equal(await page.locator('#data-kind').innerText(), 'JSON');
    assert.equal(
      await page.locator('#detail-data').innerText(),
      JSON.stringify({ order: 1, lines: [{ sku: 'A', qty: 2 }] }, null, 2),
    );
    assert.equal(
      await page.locator('#detail-answer').innerText(),
      JSON.stringify({ success: false, error: { message: 'no address' } }, null, 2),
      'knativeerrordata decoded and pretty-printed',
    );
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: screenshotPath('2-detail') });

    await page.getByRole('button', { name: 'Replay…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replay this dead letter?' });
    await dialog.waitFor();
    assert.match(
      await dialog.innerText(),
      new RegExp(`its destination ${shipping.url.replace(/[/.]/g, '\\$&')}`),
      'the confirmation states the target',
    );
    await page.screenshot({ path: screenshotPath('3-confirm-replay') });
    await dialog.getByRole('button', { name: 'Replay' }).click();
    await page.getByText(`Replayed to ${shipping.url}: answered 202`).waitFor();
    assert.equal(shipping.requests.length, 1, 'exactly one copy');
    assert.equal(billing.requests.length, 0);
    const sent = shipping.requests[0]!.event!;
    assert.equal(sent.id, 'order-1');
    assert.equal(sent.knativeerrordest, undefined);
    assert.equal(typeof sent.replayid, 'string');
    await page.locator('#detail-summary', { hasText: String(sent.replayid) }).waitFor();

    await page.keyboard.press('Escape');
    await waitFor('the detail closed', async () => ((await page.locator('#detail').isHidden()) ? true : undefined));
    assert.equal(
      await page.evaluate('document.activeElement.classList.contains("open")'),
      true,
      'focus goes back to the row',
    );
  });

  test('binary data is shown as hex (and base64), markup in data and answer stays text', async () => {
    await page.getByRole('button', { name: 'Clear' }).click();
    await waitFor('every dead letter listed again', async () =>
      (await rowsText(page)).length === 7 ? true : undefined,
    );
    await page.locator('#letters tbody tr', { hasText: 'com.example.blob' }).locator('button.open').click();
    await page.locator('#detail-title', { hasText: 'Dead letter blob-1' }).waitFor();
    assert.match(await page.locator('#data-kind').innerText(), /^Binary \(10 bytes, application\/octet-stream\): hex$/);
    assert.match(
      await page.locator('#detail-data').innerText(),
      /^00000000 {2}00 01 02 ff fe 41 42 43 0a 80 +\.\.\.\.\.ABC\.\.$/,
    );
    assert.equal(
      await page.locator('#detail-base64').textContent(),
      Buffer.from([0, 1, 2, 255, 254, 65, 66, 67, 10, 128]).toString('base64'),
    );

    await page.locator('#letters tbody tr', { hasText: xss }).locator('button.open').click();
    await page.locator('#detail-title', { hasText: 'Dead letter markup-1' }).waitFor();
    assert.equal(await page.locator('#detail-answer').innerText(), xss);
    assert.match(await page.locator('#detail-data').innerText(), /onerror/);
    assert.match(
      await page.locator('#detail-data').innerText(),
      /\n {2}"n": 12345678901234567890,\n {2}"n": 1\n\}$/,
      'JSON shown as it was sent: the big number and both keys',
    );
    assert.equal(await page.locator('#detail img, #confirm img').count(), 0);
    await page.getByRole('button', { name: 'Close the dead letter' }).click();
  });

  test('a bulk replay job shows live progress and can be cancelled', async () => {
    await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        postDeadLetter(runtime.url, { id: `bulk-${i}`, type: 'com.example.bulk', code: '503', dest: bulk.url }),
      ),
    );
    await page.getByLabel('Type', { exact: true }).fill('com.example.bulk');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor('the bulk dead letters listed', async () =>
      (await rowsText(page)).length === 50 ? true : undefined,
    );
    await page.getByLabel('Rate (per second)').fill('20');
    await page.getByRole('button', { name: 'Replay all matching…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start a replay job?' });
    await dialog.waitFor();
    assert.match(
      await dialog.innerText(),
      /Replay 120 dead letters matching type = com\.example\.bulk \(not replayed yet\) to each one's own destination \(the subscriber that failed\), at 20 per second/,
    );
    assert.match(
      await dialog.innerText(),
      new RegExp(`bulk-0 \\(com\\.example\\.bulk\\) → ${bulk.url.replace(/[/.]/g, '\\$&')}`),
    );
    await dialog.getByRole('button', { name: 'Start the job' }).click();

    await page.getByRole('tab', { name: 'Replay jobs', selected: true }).waitFor();
    const job = page.locator('#jobs li').first();
    await job.locator('.job-state', { hasText: 'running' }).waitFor();
    const progress = job.getByRole('progressbar');
    await waitFor('the progress bar moved', async () =>
      Number(await progress.evaluate((p) => (p as unknown as { value: number }).value)) >= 10 ? true : undefined,
    );
    assert.equal(Number(await progress.evaluate((p) => (p as unknown as { max: number }).max)), 120);
    await page.screenshot({ path: screenshotPath('4-job-running') });
    await job.getByRole('button', { name: 'Cancel job' }).click();
    await job.locator('.job-state', { hasText: 'cancelled' }).waitFor();
    await page.screenshot({ path: screenshotPath('5-job-cancelled') });

    const jobs = (await adminCall(runtime.url, token, '/dead-letters/replays')).body.jobs;
    const cancelled = jobs[0];
    assert.equal(cancelled.state, 'cancelled');
    assert.ok(
      cancelled.replayed >= 10 && cancelled.replayed < 120,
      `cancelled part-way (${cancelled.replayed} of 120)`,
    );
    assert.equal(bulk.requests.length, cancelled.replayed, 'nothing sent after the cancel');
    assert.equal(
      (await listAll(runtime.url, token, '&type=com.example.bulk&replayed=true')).length,
      cancelled.replayed,
    );
    await page.getByRole('tab', { name: 'Dead letters' }).click();
  });

  test('purge shows a dry-run count, removes what matches, and the audit log lists every replay and purge', async () => {
    await page.getByLabel('Type', { exact: true }).fill('purge.me');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor('the two to purge listed', async () => ((await rowsText(page)).length === 2 ? true : undefined));
    await page.getByRole('button', { name: 'Purge all matching…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Purge for good?' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Remove 2 dead letters matching type = purge\.me/);
    await page.screenshot({ path: screenshotPath('6-confirm-purge') });
    await dialog.getByRole('button', { name: 'Purge 2' }).click();
    const said = await waitFor('the purge reported', async () => {
      const status = await page.locator('#status').innerText();
      return status.startsWith('Purged') || (await page.locator('#status.bad').count()) > 0 ? status : undefined;
    });
    assert.equal(said, 'Purged 2 dead letters.');
    await page.getByText('No dead letter matches.').waitFor();
    assert.equal((await listAll(runtime.url, token, '&type=purge.me')).length, 0);
    assert.equal(
      (await adminCall(runtime.url, token, '/dead-letters?limit=500')).body.items.some(
        (i: { eventId: string }) => i.eventId === 'purge-1',
      ),
      false,
    );

    await page.getByRole('tab', { name: 'Audit log' }).click();
    await page.locator('#audit tbody tr').nth(3).waitFor();
    const audit = await page.locator('#audit tbody').innerText();
    assert.match(audit, /purge\tconsole-test \(sha256:[0-9a-f]{12}\)\tfilter: \{"type":"purge.me"\}\tpurged: 2/);
    assert.match(audit, /replay-job-cancel\tconsole-test/);
    assert.match(audit, /replay-job\tconsole-test/);
    assert.match(audit, /replay\tconsole-test \(sha256:[0-9a-f]{12}\)\tid: [^\n]*eventId: order-1; to: destination/);
    await page.screenshot({ path: screenshotPath('7-audit') });
  });
});

describe('dlq console in the bundle', () => {
  test('dist/knative-events.cjs serves the same console files, embedded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlq-console-bundle-'));
    dirs.push(dir);
    const bundle = await startBundle(
      { ROLE: 'dlq', DLQ_FILE: join(dir, 'd.jsonl'), DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn' },
      { cwd: dir },
    );
    try {
      for (const [path, file] of [
        ['ui', 'index.html'],
        ['ui/console.js', 'console.js'],
        ['ui/console.css', 'console.css'],
      ] as const) {
        const res = await fetch(new URL(`/dead-letters/${path}`, bundle.url));
        assert.equal(res.status, 200, path);
        assert.equal(
          await res.text(),
          readFileSync(new URL(`../runtime/dlq/console/static/${file}`, import.meta.url), 'utf8'),
          `${path} is the file in runtime/dlq/console/static/`,
        );
      }
    } finally {
      bundle.child.kill('SIGTERM');
      await bundle.exited;
    }
  });
});
