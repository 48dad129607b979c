// The forwarding figures: with a broker stand-in in its own process, posting straight to it (the ceiling for
// any forwarder on this machine), then our handler (legacy input, as its clients send) and sink-forwarder
// (binary input, as a Trigger delivers) from each given bundle, beside the bare and the plain Koa forwarder
// doing the same posting with the same input.
import { body, headers, legacyHeaders, structuredBody, structuredHeaders } from './event.mjs';
import { measureLoad } from './load.mjs';
import { loadSideBySide, withStandIn } from './measure.mjs';
import { medianLoads, medianServed } from './rounds.mjs';
import { forwarders } from './targets.mjs';

/** @typedef {import('./measure.mjs').Served} Served */
/** @typedef {{ direct: Record<number, Awaited<ReturnType<typeof measureLoad>>>, handler: Record<string, Served>, sink: Record<string, Served> }} Forwarding */

/**
 * @param {{ bundles: Record<string, string>, connections: number[], settings: { durationS: number, warmupS: number, idleSettleMs: number } }} o
 *   bundles: run name → bundle file (compare: before and after; run: ours)
 * @returns {Promise<Forwarding>}
 */
export function measureForwarding(o) {
  return withStandIn({ headers: structuredHeaders, body: structuredBody }, async (url) => {
    const f = forwarders(url);
    const { settings, connections } = o;
    /** @type {Forwarding} */
    const out = { direct: {}, handler: {}, sink: {} };
    for (const c of connections) {
      out.direct[c] = await measureLoad({
        url,
        connections: c,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        headers: structuredHeaders,
        body: structuredBody,
      });
    }
    const inputs = { handler: { headers: legacyHeaders, body }, sink: { headers, body } };
    for (const role of /** @type {const} */ (['handler', 'sink'])) {
      /** @type {Record<string, import('./targets.mjs').Target>} */
      const servers = { floor: f.bare, limit: f.koa };
      for (const [run, bundle] of Object.entries(o.bundles)) {
        servers[run] =
          role === 'handler'
            ? f.handler(`handler-${run}`, `handler, ${run}`, bundle)
            : f.sinkForwarder(`sink-forwarder-${run}`, `sink-forwarder, ${run}`, bundle);
      }
      out[role] = await loadSideBySide(servers, { probe: inputs[role], connections, settings });
    }
    return out;
  });
}

/** Several rounds of measureForwarding → the median of each figure (failures summed). */
export function medianForwarding(/** @type {Forwarding[]} */ rounds) {
  return {
    direct: medianLoads(rounds.map((r) => r.direct)),
    handler: medianServed(rounds.map((r) => r.handler)),
    sink: medianServed(rounds.map((r) => r.sink)),
  };
}
