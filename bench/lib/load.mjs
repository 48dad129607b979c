// Sustained load with autocannon's programmatic API: a short warm-up (JIT, connection set-up), then the
// measured run. Non-2xx answers and errors are counted, never hidden: a fast wrong answer is no result.
import autocannon from 'autocannon';
import { cpuMsOf } from './processes.mjs';

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * With `pid`, also the server's CPU time per request: unlike req/s, it hardly moves when other work shares
 * the machine, so it is the figure to trust on a busy one.
 * @param {{ url: string, connections: number, durationS: number, warmupS: number, headers: Record<string,string>, body: string, pid?: number }} o
 */
export async function measureLoad(o) {
  const base = {
    url: o.url,
    method: 'POST',
    headers: o.headers,
    body: o.body,
    connections: o.connections,
    pipelining: 1,
  };
  if (o.warmupS > 0) await run({ ...base, duration: o.warmupS });
  const cpuBefore = o.pid ? cpuMsOf(o.pid) : NaN;
  const result = await run({ ...base, duration: o.durationS });
  const cpuMs = o.pid ? cpuMsOf(o.pid) - cpuBefore : NaN;
  return {
    connections: o.connections,
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    cpuUsPerRequest: (cpuMs * 1000) / result.requests.total,
    total: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
