// End to end with a real Prometheus: it scrapes the runtime's /metrics (token-protected, in whichever format
// it negotiates) every second, and its query API must show the target up and exactly the events sent.
// The dashboard's queries are evaluated by the same Prometheus, so a broken expression fails here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';
import { dashboardQueries, postEvent, startPrometheus, type PrometheusServer } from './metrics-support.js';

const token = 'prometheus-scrape-token';
const job = 'knative-events';
const sent = { 'com.example.order': 15, 'com.example.unlisted': 10 };
const total = Object.values(sent).reduce((a, b) => a + b, 0);
/** A dashboard query with Grafana's variables replaced as Grafana would for "All". */
const concrete = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$role', '.*').replaceAll('$function', '.*');

describe('a real Prometheus scrapes the runtime', () => {
  let runtime: RunningRuntime;
  let prometheus: PrometheusServer;
  before(async () => {
    runtime = await startRuntime({
      ROLE: 'subscriber',
      FUNCTION: 'echo',
      METRICS_TOKEN: token,
      METRICS_EVENT_TYPES: 'com.example.order',
    });
    const target = new URL(runtime.url).host;
    prometheus = await startPrometheus([
      { job, target, bearer: token },
      { job: 'wrong-token', target, bearer: `${token}-wrong` },
    ]);
  });
  after(async () => {
    await prometheus?.stop();
    await runtime?.stop();
  });

  const value = async (expr: string): Promise<number | undefined> => {
    const result = await prometheus.query(expr);
    return result.length === 0 ? undefined : Number(result[0]?.value[1]);
  };

  test('the target is up with the token and down without it', async () => {
    let up: unknown;
    await waitFor(async () => (up = await value(`up{job="${job}"}`)) === 1, 20_000, {
      what: `up{job="${job}"} == 1`,
      intervalMs: 200,
      context: () => ({ lastSeen: up }),
    });
    let wrong: unknown;
    await waitFor(async () => (wrong = await value('up{job="wrong-token"}')) === 0, 20_000, {
      what: 'up{job="wrong-token"} == 0',
      intervalMs: 200,
      context: () => ({ lastSeen: wrong }),
    });
  });

  test(`after ${total} events, the received counter is exactly ${total}, split by allowed type`, async () => {
    for (const [type, count] of Object.entries(sent)) {
      for (let i = 0; i < count; i++) assert.equal(await postEvent(runtime.url, type), 200);
    }
    const received = `sum(knative_events_received_total{job="${job}"})`;
    let seen: unknown;
    await waitFor(async () => (seen = await value(received)) === total, 20_000, {
      what: `${received} == ${total}`,
      intervalMs: 200,
      context: () => ({ lastSeen: seen }),
    });
    assert.equal(
      await value(
        `knative_events_received_total{job="${job}", role="subscriber", function="echo", event_type="com.example.order"}`,
      ),
      15,
    );
    assert.equal(await value(`knative_events_received_total{job="${job}", event_type="other"}`), 10);
    assert.equal(await value(`sum(knative_events_processed_total{job="${job}"})`), total);
    assert.equal(await value(`knative_events_build_info{job="${job}"}`), 1);
    assert.equal((await prometheus.query('knative_events_received_total{job="wrong-token"}')).length, 0);
  });

  test('every query of the Grafana dashboard is valid PromQL; the event panels show the subscriber', async () => {
    const exprs = dashboardQueries();
    assert.ok(exprs.length >= 10, `dashboard has ${exprs.length} queries`);
    for (const { panel, expr } of exprs) {
      await prometheus.query(concrete(expr)).catch((err: Error) => assert.fail(`panel "${panel}": ${err.message}`));
    }
    // rate() needs two scrapes of a series: those that first appeared with the events may need one more.
    for (const panel of [
      'Events received /s by role',
      'Events handled /s by outcome',
      'Event latency p50 / p99 by role',
      'Function duration p50 / p99',
    ]) {
      const panelExprs = exprs.filter((q) => q.panel === panel).map((q) => concrete(q.expr));
      assert.ok(panelExprs.length > 0, `the dashboard has no panel "${panel}"`);
      const seriesShown = async () =>
        (await Promise.all(panelExprs.map((e) => prometheus.query(e)))).some((result) => result.length > 0);
      await waitFor(seriesShown, 10_000, {
        what: `panel "${panel}" to show the subscriber: ${panelExprs.join(' | ')}`,
        intervalMs: 200,
      });
    }
  });
});
