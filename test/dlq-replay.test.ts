// Replay semantics against a running dlq, on the file store, and where a store keeps something (jobs, replay
// marks, purges, the audit log) on the PostgreSQL store too, from a server this file starts: the console's
// browser test (dlq-console.test.ts) runs on the file store only, and the admin API calls its page makes are
// tested here on both stores.
// - two Triggers match one event, one subscriber fails: the replay reaches only that subscriber (its
//   knativeerrordest), through the project's local Broker with real Trigger fan-out and dead-lettering;
// - to=broker, to=<allow-listed URL>, a URL not on DLQ_REPLAY_TARGETS refused; the replayed event keeps its
//   id, loses knativeerror*, gains replayid, and the original's record points to the replay; dry runs;
// - poison pills: a bulk job over 1,000 dead letters with bad ones mixed in replays every good one at the
//   requested rate (measured from the receiver's own timestamps) and reports every bad one;
// - a job by ids shows its progress and is cancelled at once, the ones sent marked replayed (both stores);
// - a job survives a restart of the dlq (file and PostgreSQL stores; and kill -9 of the bundled dlq): saved or
//   shown as interrupted, then resumed; nothing sent twice after SIGTERM, at least once after kill -9;
// - purge by id and filter with a dry-run count, kept across a restart, a replay marked on its dead letter
//   across it too; every action in the audit log, naming the caller (both stores).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HTTP, type CloudEvent } from 'cloudevents';
import { createBroker } from '../local/broker.js';
import { ConfigError, parseConfig, type DlqConfig } from '../runtime/config.js';
import { defaultDelivery } from '../local/delivery.js';
import { fetchPost } from '../local/http.js';
import { createConsole } from '../local/log.js';
import { startServer, type RunningServer } from '../local/server.js';
import { adminCall, listAll, postDeadLetter, waitFor } from './helpers/dead-letters.js';
import { startBundle } from './helpers/bundle.js';
import { lightPost } from './helpers/light-post.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const token = 'replay-test-token-0123456789';
const dirs: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
let postgres: PostgresServer;
let databases = 0;
before(async () => {
  postgres = await startPostgres({ fsync: false });
  cleanups.push(() => postgres.close());
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function storeFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dlq-replay-'));
  dirs.push(dir);
  return join(dir, 'dead-letters.jsonl');
}

type StoreKind = 'file' | 'postgres';
const storeKinds: readonly StoreKind[] = ['file', 'postgres'];

/** A new, empty store of `kind`: the env a dlq needs for it (the same env again is the same store). */
async function storeEnv(kind: StoreKind): Promise<Record<string, string>> {
  return kind === 'file'
    ? { DLQ_FILE: storeFile() }
    : { DLQ_STORE: 'postgres', DLQ_DATABASE_URL: await postgres.createDatabase(`dlq_replay_${++databases}`) };
}

async function dlq(env: Record<string, string>): Promise<RunningRuntime> {
  const runtime = await startRuntime({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', ...env });
  cleanups.push(() => runtime.stop());
  return runtime;
}

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

async function post(url: string, path: string, caller = 'replay-test') {
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-dlq-caller': caller },
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

async function jobDone(url: string, id: string, deadlineMs = 30_000) {
  return waitFor(
    `replay job ${id} to finish`,
    async () => {
      const { body } = await adminCall(url, token, `/dead-letters/replays/${id}`);
      return ['done', 'cancelled', 'failed', 'interrupted'].includes(body.job.state) ? body.job : undefined;
    },
    deadlineMs,
  );
}

describe('dlq replay: to the subscriber that failed', () => {
  test('two Triggers match one event and one fails: the replay reaches only the failed subscriber, once', async () => {
    const billing = await receiver({ status: 202 });
    const shipping = await receiver({ status: 202 });
    shipping.script({ status: 422, body: '{"success":false,"error":{"message":"no address"}}' });
    const runtime = await dlq({ DLQ_FILE: storeFile() });
    const lines: string[] = [];
    const log = createConsole({ level: 'debug', colour: false, write: (l) => lines.push(l) }).component('broker');
    const delivery = { ...defaultDelivery, retry: 0, deadLetterUrl: runtime.url };
    const broker = createBroker(
      [{ name: 'default', namespace: 'shop', path: '/shop/default', url: '' }],
      [
        {
          name: 'billing',
          namespace: 'shop',
          brokerPath: '/shop/default',
          filter: { attributes: { type: 'com.example.order' } },
          subscriberUrl: billing.url,
          subscriberLabel: 'billing',
          delivery,
        },
        {
          name: 'shipping',
          namespace: 'shop',
          brokerPath: '/shop/default',
          filter: { attributes: { type: 'com.example.order' } },
          subscriberUrl: shipping.url,
          subscriberLabel: 'shipping',
          delivery,
        },
      ],
      { post: fetchPost, sleep: async () => undefined, log },
    );
    const ingress: RunningServer = await startServer('broker', '127.0.0.1', 0, (req, body) => broker.handle(req, body));
    cleanups.push(() => ingress.close());
    const brokerUrl = `http://127.0.0.1:${ingress.port}/shop/default`;

    const sent = await fetch(brokerUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'order-42',
        'ce-source': '/shop',
        'ce-type': 'com.example.order',
      },
      body: '{"order":42}',
    });
    assert.equal(sent.status, 202);
    await broker.idle();
    assert.equal(billing.requests.length, 1, 'billing handled it');
    assert.equal(shipping.requests.length, 1, 'shipping refused it');
    const [letter] = await waitFor('the dead letter stored', async () => {
      const items = await listAll(runtime.url, token);
      return items.length === 1 ? items : undefined;
    });
    assert.equal((letter?.error as { destination: string }).destination, shipping.url);

    const dry = await post(runtime.url, `/dead-letters/${letter!.id}/replay?dryRun=true`);
    assert.equal(dry.status, 200);
    assert.equal(dry.body.target, shipping.url);
    assert.equal(dry.body.event.knativeerrordest, undefined);
    assert.equal(shipping.requests.length, 1, 'a dry run sends nothing');

    const replayed = await post(runtime.url, `/dead-letters/${letter!.id}/replay`);
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.equal(replayed.body.to, 'destination');
    assert.equal(replayed.body.target, shipping.url);
    assert.equal(shipping.requests.length, 2, 'shipping got the replay');
    assert.equal(billing.requests.length, 1, 'billing, which had handled it, did not get it again');
    const event = shipping.requests[1]!.event!;
    assert.equal(event.id, 'order-42', 'same id');
    assert.deepEqual(event.data, { order: 42 });
    assert.equal(event.knativeerrordest, undefined);
    assert.equal(event.knativeerrorcode, undefined);
    assert.equal(event.knativeerrordata, undefined);
    assert.equal(event.replayid, replayed.body.replayId);

    const shown = (await adminCall(runtime.url, token, `/dead-letters/${letter!.id}`)).body.deadLetter;
    assert.equal(shown.replayed.replayId, replayed.body.replayId, 'the original points to its replay');
    assert.equal(shown.replayed.to, 'destination');
    assert.equal(shown.replayed.target, shipping.url);

    const again = await post(runtime.url, `/dead-letters/${letter!.id}/replay`);
    assert.equal(again.body.replayed, false);
    assert.equal(again.body.replayId, replayed.body.replayId);
    assert.equal(shipping.requests.length, 2, 'not sent twice');
  });

  test('to=broker, to=<allow-listed URL>, and a URL not on DLQ_REPLAY_TARGETS refused; a letter without knativeerrordest', async () => {
    const broker = await receiver({ status: 202 });
    const allowed = await receiver({ status: 202 });
    const other = await receiver({ status: 202 });
    const runtime = await dlq({
      DLQ_FILE: storeFile(),
      BROKER_URL: broker.url,
      DLQ_REPLAY_TARGETS: `${allowed.url}, http://example.invalid/x`,
    });
    const a = await postDeadLetter(runtime.url, { id: 'a', dest: other.url });
    const b = await postDeadLetter(runtime.url, { id: 'b', dest: other.url });

    const toBroker = await post(runtime.url, `/dead-letters/${a.id}/replay?to=broker`);
    assert.equal(toBroker.body.target, broker.url);
    assert.equal(broker.requests.length, 1);
    const toAllowed = await post(runtime.url, `/dead-letters/${b.id}/replay?to=${encodeURIComponent(allowed.url)}`);
    assert.equal(toAllowed.status, 200);
    assert.equal(allowed.requests[0]?.event?.id, 'b');

    const refused = await post(
      runtime.url,
      `/dead-letters/${b.id}/replay?force=true&to=${encodeURIComponent(other.url)}`,
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.type, 'forbidden');
    assert.match(refused.body.error.message, /not in DLQ_REPLAY_TARGETS/);
    const refusedJob = await post(
      runtime.url,
      `/dead-letters/replays?all=true&to=${encodeURIComponent('http://169.254.169.254/')}`,
    );
    assert.equal(refusedJob.status, 403);
    assert.equal(refusedJob.body.error.type, 'forbidden');
    assert.equal(other.requests.length, 0, 'nothing reached a host that is not allowed');

    const noDest = await fetch(runtime.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'c',
        'ce-source': '/s',
        'ce-type': 't',
      },
      body: '{}',
    });
    const noDestReplay = await post(runtime.url, `/dead-letters/${noDest.headers.get('x-dead-letter-id')}/replay`);
    assert.equal(noDestReplay.status, 422);
    assert.match(noDestReplay.body.error.message, /no knativeerrordest/);

    const withoutBroker = await dlq({ DLQ_FILE: storeFile() });
    const c = await postDeadLetter(withoutBroker.url, { id: 'c', dest: other.url });
    assert.equal((await post(withoutBroker.url, `/dead-letters/${c.id}/replay?to=broker`)).status, 400);
  });
});

/** A subscriber that answers every event with a reply event (binary mode), as a transformer does. */
async function replyingSubscriber(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(String(req.headers['ce-id']));
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': `reply-to-${req.headers['ce-id']}`,
          'ce-source': '/shipping',
          'ce-type': 'com.example.shipped',
        })
        .end('{"shipped":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received };
}

describe('dlq replay: a destination that replies', () => {
  test('its reply event is published into the broker, as Knative would; without BROKER_URL the replay fails and stays unreplayed', async () => {
    const subscriber = await replyingSubscriber();
    const broker = await receiver({ status: 202 });
    const runtime = await dlq({ DLQ_FILE: storeFile(), BROKER_URL: broker.url });
    const stored = await postDeadLetter(runtime.url, { id: 'ship-1', dest: subscriber.url });
    const replayed = await post(runtime.url, `/dead-letters/${stored.id}/replay`);
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.deepEqual(replayed.body.reply, { id: 'reply-to-ship-1', type: 'com.example.shipped', status: 202 });
    assert.deepEqual(subscriber.received, ['ship-1']);
    assert.equal(broker.requests.length, 1, 'the reply, not the replayed event, went to the broker');
    assert.equal(broker.requests[0]!.event!.id, 'reply-to-ship-1');
    assert.deepEqual(broker.requests[0]!.event!.data, { shipped: true });

    const noBroker = await dlq({ DLQ_FILE: storeFile() });
    const other = await postDeadLetter(noBroker.url, { id: 'ship-2', dest: subscriber.url });
    const refused = await post(noBroker.url, `/dead-letters/${other.id}/replay`);
    assert.equal(refused.status, 502);
    assert.match(refused.body.error.message, /answered with a reply event \(com\.example\.shipped\).*set BROKER_URL/);
    assert.equal(
      (await adminCall(noBroker.url, token, `/dead-letters/${other.id}`)).body.deadLetter.replayed,
      null,
      'left unreplayed: it can be replayed again',
    );
  });
});

/** A receiver that records when each event arrived (its own clock), answering 400 to the ones marked `refuse`. */
async function timedReceiver(): Promise<{
  url: string;
  arrivals: Array<{ at: number; event: CloudEvent<unknown> }>;
  close(): Promise<void>;
}> {
  const arrivals: Array<{ at: number; event: CloudEvent<unknown> }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const event = HTTP.toEvent({
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString('utf8'),
      }) as CloudEvent<unknown>;
      arrivals.push({ at, event });
      res.writeHead(event.refuse === 'yes' ? 400 : 202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanups.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, arrivals, close };
}

/** Posts `count` requests, `concurrency` at a time (the file store commits them in groups). */
async function inParallel(count: number, concurrency: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await send(next++);
    }),
  );
}

describe('dlq replay: bulk jobs', () => {
  test('poison pills: 1,000 good dead letters and bad ones mixed in are replayed at the requested rate, every bad one reported', async () => {
    const target = await timedReceiver();
    const runtime = await dlq({ DLQ_FILE: storeFile(), OUTBOUND_RETRIES: '0' });
    const good = 1000;
    const bad = new Map<string, RegExp>();
    // Every 25th one is bad, each a different way: an extension the SDK cannot take (`constructor`, which used
    // to stop a batch replay at the same event on every run), data that is not the JSON it says it is (stored
    // raw), no knativeerrordest, a destination that refuses it.
    const kinds = ['constructor', 'broken-json', 'no-destination', 'refused'] as const;
    const total = good + 40;
    await inParallel(total, 16, async (i) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': `ev-${i}`,
        'ce-source': '/bulk',
        'ce-type': 'com.example.bulk',
        'ce-knativeerrordest': target.url,
        'ce-knativeerrorcode': '503',
      };
      let body = JSON.stringify({ n: i });
      if (i % 26 === 25) {
        const kind = kinds[bad.size % kinds.length]!;
        if (kind === 'constructor') {
          headers['ce-constructor'] = 'x';
          bad.set(`ev-${i}`, /constructor/);
        } else if (kind === 'broken-json') {
          body = '{"n": ';
          bad.set(`ev-${i}`, /stored raw because it is not a valid CloudEvent/);
        } else if (kind === 'no-destination') {
          delete headers['ce-knativeerrordest'];
          bad.set(`ev-${i}`, /no knativeerrordest/);
        } else {
          headers['ce-refuse'] = 'yes';
          bad.set(`ev-${i}`, /refused the event with status 400/);
        }
      }
      assert.equal((await lightPost(runtime.url, headers, body)).status, 202);
    });
    assert.equal(bad.size, 40);

    const rate = 200;
    const started = await post(runtime.url, `/dead-letters/replays?type=com.example.bulk&rate=${rate}`);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const job = await jobDone(runtime.url, started.body.job.id, 60_000);
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(job.total, total);
    assert.equal(job.replayed, good);
    assert.equal(job.failed, 40);
    assert.equal(job.done, total);
    // Every bad one reported with why; no good one among them.
    assert.deepEqual(new Set(job.failures.map((f: { eventId: string }) => f.eventId)), new Set(bad.keys()));
    for (const failure of job.failures as Array<{ eventId: string; message: string }>)
      assert.match(failure.message, bad.get(failure.eventId)!, failure.eventId);

    // Exactly the good ones arrived, once each (the refused ones arrived and were answered 400).
    const accepted = target.arrivals.filter((a) => a.event.refuse !== 'yes');
    assert.equal(accepted.length, good);
    assert.equal(new Set(accepted.map((a) => a.event.id)).size, good);
    for (const { event } of accepted) assert.ok(!bad.has(event.id), `${event.id} is a bad one`);

    // The rate, from the receiver's timestamps: every send (the refused ones took a slot too).
    const times = target.arrivals.map((a) => a.at).sort((x, y) => x - y);
    const seconds = (times.at(-1)! - times[0]!) / 1000;
    const measured = (times.length - 1) / seconds;
    // The limit is the contract (+20%); the floor only catches a limiter stuck far below it (a machine busy with
    // other work slows the replay itself: at a load average of 30 on 2 cores it reached 40-45/s).
    assert.ok(
      measured >= rate * 0.5 && measured <= rate * 1.2,
      `measured ${measured.toFixed(1)} events/s over ${seconds.toFixed(2)} s; asked for ${rate} (0.5x to 1.2x)`,
    );
    // No second was a burst far above the rate (the limiter catches up at most a second's worth).
    const perSecond = new Map<number, number>();
    for (const t of times)
      perSecond.set(Math.floor((t - times[0]!) / 1000), (perSecond.get(Math.floor((t - times[0]!) / 1000)) ?? 0) + 1);
    assert.ok(
      Math.max(...perSecond.values()) <= rate * 2,
      `at most twice the rate in any second: ${[...perSecond.values()].join(', ')}`,
    );
    console.log(
      `# poison-pill job: ${good} good + 40 bad, ${measured.toFixed(1)} events/s measured at the receiver (asked ${rate}), ${seconds.toFixed(2)} s`,
    );

    const ended = (await adminCall(runtime.url, token, '/dead-letters/audit')).body.items.find(
      (e: { action: string }) => e.action === 'replay-job-end',
    );
    assert.deepEqual(ended.result, { state: 'done', total, replayed: good, skipped: 0, failed: 40 });
    assert.equal(ended.caller.label, 'replay-test');

    // A second run skips what was replayed and fails on the same bad ones again, never stuck on them.
    const second = await jobDone(
      runtime.url,
      (await post(runtime.url, '/dead-letters/replays?type=com.example.bulk&rate=500')).body.job.id,
    );
    assert.equal(second.replayed, 0);
    assert.equal(second.failed, 40);
  });

  for (const kind of storeKinds) {
    test(`${kind} store: a job by ids shows its progress; cancel stops it at once; the ones sent are marked replayed`, async () => {
      const target = await receiver({ status: 202 });
      const runtime = await dlq(await storeEnv(kind));
      const ids: string[] = [];
      for (let i = 0; i < 30; i++)
        ids.push((await postDeadLetter(runtime.url, { id: `c-${i}`, type: 'cancel.me', dest: target.url })).id!);
      const { job } = (await post(runtime.url, `/dead-letters/replays?ids=${ids.join(',')}&rate=10`)).body;
      // Its progress, as the console's progress bar reads it.
      const running = await waitFor('some sent, as the job shows', async () => {
        const shown = (await adminCall(runtime.url, token, `/dead-letters/replays/${job.id}`)).body.job;
        return shown.replayed >= 3 ? shown : undefined;
      });
      assert.equal(running.state, 'running');
      assert.equal(running.total, 30);
      const cancelled = (await post(runtime.url, `/dead-letters/replays/${job.id}/cancel`)).body.job;
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(target.requests.length, cancelled.replayed, 'nothing sent after the cancel answered');
      assert.ok(cancelled.replayed < 30);
      const cancelledTwice = await post(runtime.url, `/dead-letters/replays/${job.id}/cancel`);
      assert.equal(cancelledTwice.status, 409);
      assert.equal(cancelledTwice.body.error.type, 'conflict');
      assert.match(cancelledTwice.body.error.message, /nothing to cancel/);
      assert.deepEqual(
        target.requests.map((r) => r.event?.id),
        ids.slice(0, cancelled.replayed).map((_, i) => `c-${i}`),
        'in the order given',
      );
      const listed = (await adminCall(runtime.url, token, '/dead-letters/replays')).body.jobs;
      assert.deepEqual(
        listed.map((j: { id: string; state: string }) => [j.id, j.state]),
        [[job.id, 'cancelled']],
      );
      assert.deepEqual(
        (await listAll(runtime.url, token, '&type=cancel.me&replayed=true')).map((i) => i.eventId).sort(),
        target.requests.map((r) => r.event?.id).sort(),
        'exactly the ones sent are marked replayed',
      );
      const audit = (await adminCall(runtime.url, token, '/dead-letters/audit')).body.items;
      assert.deepEqual(
        audit.map((e: { action: string; caller: { label: string } }) => [e.action, e.caller.label]),
        [
          ['replay-job-cancel', 'replay-test'],
          ['replay-job-end', 'replay-test'],
          ['replay-job', 'replay-test'],
        ],
      );
      assert.deepEqual(audit[0].what, { job: job.id });
      assert.equal(audit[1].result.state, 'cancelled');
      assert.equal(audit[1].result.replayed, cancelled.replayed);
    });
  }
});

describe('dlq replay: a job across a restart, both stores', () => {
  for (const storeKind of storeKinds) {
    test(`${storeKind} store: a dry run counts and shows what would be sent; a job survives a restart of the dlq (interrupted, resumed, nothing sent twice)`, async () => {
      const target = await receiver({ status: 202 });
      const store = await storeEnv(storeKind);
      let runtime = await startRuntime({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', ...store });
      await inParallel(60, 10, async (i) => {
        assert.equal(
          (await postDeadLetter(runtime.url, { id: `r-${i}`, type: 'restart.me', dest: target.url })).status,
          202,
        );
      });
      const dry = await post(runtime.url, '/dead-letters/replays?type=restart.me&rate=20&dryRun=true');
      assert.equal(dry.body.count, 60);
      assert.equal(dry.body.estimatedSeconds, 3);
      assert.equal(dry.body.sample[0].eventId, 'r-0');
      assert.equal(dry.body.sample[0].target, target.url);
      assert.equal(dry.body.sample[0].event.knativeerrordest, undefined);
      assert.equal(target.requests.length, 0);

      const { job } = (await post(runtime.url, '/dead-letters/replays?type=restart.me&rate=20')).body;
      await waitFor('some sent', () => (target.requests.length >= 5 ? true : undefined));
      await runtime.stop(); // SIGTERM: the job is saved as interrupted
      const sentBefore = target.requests.length;
      assert.ok(sentBefore < 60);

      runtime = await startRuntime({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', ...store });
      cleanups.push(() => runtime.stop());
      const interrupted = (await adminCall(runtime.url, token, `/dead-letters/replays/${job.id}`)).body.job;
      assert.equal(interrupted.state, 'interrupted');
      assert.match(interrupted.reason, /stopped .*\/resume/);
      assert.equal(interrupted.replayed, sentBefore);
      assert.equal(target.requests.length, sentBefore, 'nothing runs it after the restart until it is resumed');

      const resumed = await post(runtime.url, `/dead-letters/replays/${job.id}/resume`);
      assert.equal(resumed.status, 200);
      const finished = await jobDone(runtime.url, job.id);
      assert.equal(finished.state, 'done');
      assert.equal(finished.replayed + finished.skipped, 60);
      assert.equal(target.requests.length, 60, 'every one sent');
      assert.equal(new Set(target.requests.map((r) => r.event?.id)).size, 60, 'none twice');
    });
  }
});

describe('dlq replay: a job when the dlq is killed', () => {
  test('kill -9 of the bundled dlq mid-job: after the restart the job says it was interrupted, and resumes', async () => {
    const target = await receiver({ status: 202 });
    const dir = mkdtempSync(join(tmpdir(), 'dlq-replay-kill-'));
    dirs.push(dir);
    const env = { ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', DLQ_FILE: join(dir, 'dead-letters.jsonl') };
    let bundle = await startBundle(env, { cwd: dir });
    cleanups.push(async () => bundle.child.kill('SIGKILL'));
    await inParallel(40, 8, async (i) => {
      assert.equal((await postDeadLetter(bundle.url, { id: `k-${i}`, type: 'kill.me', dest: target.url })).status, 202);
    });
    const { job } = (await post(bundle.url, '/dead-letters/replays?type=kill.me&rate=10')).body;
    await waitFor('some sent', () => (target.requests.length >= 3 ? true : undefined));
    bundle.child.kill('SIGKILL');
    await bundle.exited;
    const sentBefore = target.requests.length;

    bundle = await startBundle({ ...env, PORT: String(bundle.port) }, { cwd: dir });
    const shown = (await adminCall(bundle.url, token, `/dead-letters/replays/${job.id}`)).body.job;
    assert.equal(shown.state, 'interrupted');
    assert.match(shown.reason, /stopped \(restart or crash\)/);
    assert.equal(target.requests.length, sentBefore);
    assert.equal((await post(bundle.url, `/dead-letters/replays/${job.id}/resume`)).status, 200);
    const finished = await jobDone(bundle.url, job.id);
    assert.equal(finished.state, 'done');
    const ids = target.requests.map((r) => r.event?.id);
    assert.equal(new Set(ids).size, 40, 'every one sent');
    // Sent before the kill and not yet marked may go again (at least once, same id): never more than that.
    assert.ok(ids.length <= 40 + 2, `${ids.length} sends for 40 dead letters`);
    bundle.child.kill('SIGTERM');
    await bundle.exited;
  });
});

describe('dlq purge and audit', () => {
  for (const kind of storeKinds) {
    test(`${kind} store: purge by id and by filter with a dry-run count; purged letters stay gone and a replay stays marked after a restart; the audit log names the caller`, async () => {
      const target = await receiver({ status: 202 });
      const store = await storeEnv(kind);
      let runtime = await startRuntime({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', ...store });
      const keep = await postDeadLetter(runtime.url, { id: 'keep', type: 'keep', dest: target.url });
      const one = await postDeadLetter(runtime.url, { id: 'one', type: 'old' });
      for (let i = 0; i < 5; i++) await postDeadLetter(runtime.url, { id: `old-${i}`, type: 'old', code: '500' });

      // A replay before the purges: sent to its destination, marked on the record, and in the audit log.
      const replayed = await post(runtime.url, `/dead-letters/${keep.id}/replay`, 'ops: bob');
      assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
      assert.equal(target.requests.length, 1);
      assert.equal(target.requests[0]!.event!.replayid, replayed.body.replayId);

      assert.equal((await post(runtime.url, '/dead-letters/purge')).status, 400, 'no ids, no filter, no all=true');
      const dryOne = (await adminCall(runtime.url, token, `/dead-letters/${one.id}?dryRun=true`, 'DELETE')).body;
      assert.equal(dryOne.count, 1);
      assert.equal(
        (await adminCall(runtime.url, token, `/dead-letters/${one.id}`)).status,
        200,
        'a dry run removes nothing',
      );
      assert.equal((await adminCall(runtime.url, token, `/dead-letters/${one.id}`, 'DELETE')).body.purged, 1);
      assert.equal((await adminCall(runtime.url, token, `/dead-letters/${one.id}`)).status, 404);

      const dry = await post(runtime.url, '/dead-letters/purge?type=old&code=500&dryRun=true', 'ops: alice');
      assert.equal(dry.body.count, 5);
      assert.equal(dry.body.sample.length, 5);
      assert.equal((await listAll(runtime.url, token, '&type=old')).length, 5);
      const purged = await post(runtime.url, '/dead-letters/purge?type=old&code=500', 'ops: alice');
      assert.equal(purged.body.purged, 5);
      assert.deepEqual(
        (await listAll(runtime.url, token)).map((i) => i.eventId),
        ['keep'],
      );

      await runtime.stop();
      runtime = await startRuntime({ ROLE: 'dlq', DLQ_ADMIN_TOKEN: token, LOG_LEVEL: 'warn', ...store });
      cleanups.push(() => runtime.stop());
      assert.deepEqual(
        (await listAll(runtime.url, token)).map((i) => i.id),
        [keep.id],
        'still purged after a restart',
      );
      assert.equal(
        (await adminCall(runtime.url, token, '/dead-letters')).body.corrupt.length,
        0,
        'purge markers are records, not corrupt lines',
      );
      const shown = (await adminCall(runtime.url, token, `/dead-letters/${keep.id}`)).body.deadLetter;
      assert.equal(shown.replayed.replayId, replayed.body.replayId, 'the record points to its replay');
      assert.equal(shown.replayed.to, 'destination');
      assert.equal(shown.replayed.target, target.url);

      const audit = (await adminCall(runtime.url, token, '/dead-letters/audit')).body.items;
      assert.deepEqual(
        audit.map((e: { action: string }) => e.action),
        ['purge', 'purge', 'replay'],
      );
      assert.equal(audit[0].caller.label, 'ops: alice');
      assert.match(audit[0].caller.token, /^sha256:[0-9a-f]{12}$/);
      assert.ok(!JSON.stringify(audit).includes(token), 'the token itself is never recorded');
      assert.deepEqual(audit[0].what, { filter: { type: 'old', code: '500' } });
      assert.deepEqual(audit[0].result, { purged: 5 });
      assert.deepEqual(audit[1].what, { ids: [one.id] });
      assert.equal(audit[2].caller.label, 'ops: bob');
      assert.equal(audit[2].caller.token, audit[0].caller.token, 'the same token, the same fingerprint');
      assert.deepEqual(audit[2].what, { id: keep.id, eventId: 'keep', to: 'destination', force: false });
      assert.deepEqual(audit[2].result, {
        replayed: true,
        status: 202,
        target: target.url,
        replayId: replayed.body.replayId,
      });
    });
  }
});

describe('dlq replay: configuration', () => {
  test('DLQ_REPLAY_TARGETS is a list of http(s) URLs (normalised); rates are bounded', () => {
    const config = parseConfig({
      ROLE: 'dlq',
      DLQ_REPLAY_TARGETS: ' http://quarantine.default.svc.cluster.local , https://Example.com/a ',
    }) as DlqConfig;
    assert.deepEqual(config.replay.targets, ['http://quarantine.default.svc.cluster.local/', 'https://example.com/a']);
    assert.equal(config.replay.defaultRate, 50);
    assert.equal(config.replay.maxRate, 500);
    assert.throws(
      () => parseConfig({ ROLE: 'dlq', DLQ_REPLAY_TARGETS: 'http://ok/, file:///etc/passwd' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /DLQ_REPLAY_TARGETS: expected a comma-separated list of http\(s\) URLs/.test(err.message),
    );
    assert.throws(
      () => parseConfig({ ROLE: 'dlq', DLQ_REPLAY_RATE: '600' }),
      (err: unknown) =>
        err instanceof ConfigError && /DLQ_REPLAY_RATE: 600 is above DLQ_REPLAY_RATE_MAX \(500\)/.test(err.message),
    );
    assert.throws(
      () => parseConfig({ ROLE: 'dlq', DLQ_REPLAY_RATE: '0' }),
      (err: unknown) => err instanceof ConfigError && /DLQ_REPLAY_RATE/.test(err.message),
    );
  });
});
