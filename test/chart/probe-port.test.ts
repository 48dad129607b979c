// probePort: PROBE_PORT in every Service's env and the readiness probe on it (runtime/probe-server.ts), the liveness
// probe left on the container port (Knative rewrites its port), and the ports it may not take.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HELM_MAJORS, ensureHelm, render, template } from './helm.js';
import { container, env } from './contract.js';

ensureHelm();

const services = (objs: ReturnType<typeof render>) => objs.filter((o) => o.kind === 'Service');

describe('probePort', () => {
  for (const major of HELM_MAJORS) {
    it(`helm ${major}: PROBE_PORT 8081 by default, the readiness probe on it, the liveness probe on the container port`, () => {
      const all = services(render(major));
      assert.equal(all.length, 4);
      for (const s of all) {
        assert.equal(env(s).PROBE_PORT, '8081', s.metadata.name);
        assert.deepEqual(container(s).readinessProbe?.httpGet, { path: '/readyz', port: 8081 }, s.metadata.name);
        assert.deepEqual(container(s).livenessProbe?.httpGet, { path: '/healthz' }, s.metadata.name);
      }
    });
  }
  it('null in serviceDefaults: no PROBE_PORT, and the readiness probe names no port (Knative fills the container port)', () => {
    for (const s of services(render(4, { set: ['serviceDefaults.probePort=null'] }))) {
      assert.ok(!('PROBE_PORT' in env(s)), s.metadata.name);
      assert.deepEqual(container(s).readinessProbe?.httpGet, { path: '/readyz' }, s.metadata.name);
    }
  });
  it("one service's own probePort, and a readiness probe that names its port, are kept", () => {
    const objs = services(
      render(4, {
        set: ['services.echo.probePort=9191'],
        setJson: ['services.dlq.readinessProbe={"httpGet":{"path":"/readyz","port":"http1"},"periodSeconds":5}'],
      }),
    );
    const echo = objs.find((s) => s.metadata.name.endsWith('-echo'));
    assert.equal(echo && env(echo).PROBE_PORT, '9191');
    assert.equal(echo && container(echo).readinessProbe?.httpGet?.port, 9191);
    const dlq = objs.find((s) => s.metadata.name.endsWith('-dlq'));
    assert.equal(dlq && container(dlq).readinessProbe?.httpGet?.port, 'http1');
    assert.equal(dlq && env(dlq).PROBE_PORT, '8081', 'the listener is there, whatever the probe names');
  });
  for (const port of [8080, 8012, 9091]) {
    it(`probePort ${port} is refused at render, naming the ports it may not take`, () => {
      const r = template(4, { set: [`services.echo.probePort=${port}`] });
      assert.equal(r.ok, false);
      assert.match(
        r.stderr,
        new RegExp(
          `services\\.echo\\.probePort: ${port} is taken: 8080 is the container port and 8008, 8012, 8013, 8022, 8112, 9090, 9091 are queue-proxy's in the same pod`,
        ),
      );
    });
  }
  it('a probePort that is not a port is refused by the schema', () => {
    const r = template(4, { set: ['serviceDefaults.probePort=70000'] });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /at '\/serviceDefaults\/probePort': maximum: got 70,000, want 65,535/);
  });
});
