// Port assignment: from a base port, in a fixed order (handlers first, so the public entry point gets the
// base port, then the other services, the broker and the KafkaSink ingress), or any free ports with base 0.
// Fixed ports are probed first so a port in use is reported before anything starts.
import { createServer } from 'node:net';
import { RunnerError } from './errors.js';
import type { ServiceManifest } from './manifests.js';

export interface PortPlan {
  readonly services: ReadonlyMap<string, number>;
  readonly broker: number;
  readonly sink: number;
}

function probe(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = (server.address() as { port: number }).port;
      server.close(() => resolve(actual));
    });
  });
}

/** The order services get ports in: handlers first, then by short name. */
export function portOrder(services: readonly ServiceManifest[]): ServiceManifest[] {
  const isHandler = (s: ServiceManifest) =>
    s.env.some((e) => e.name === 'ROLE' && 'value' in e.source && e.source.value === 'handler');
  return [...services].sort((a, b) => Number(isHandler(b)) - Number(isHandler(a)) || a.short.localeCompare(b.short));
}

export async function assignPorts(services: readonly ServiceManifest[], base: number, host: string): Promise<PortPlan> {
  const ordered = portOrder(services);
  const wanted = ordered.map((_, i) => (base === 0 ? 0 : base + i));
  const brokerWanted = base === 0 ? 0 : base + ordered.length;
  const sinkWanted = base === 0 ? 0 : base + ordered.length + 1;
  if (base !== 0 && sinkWanted > 65535)
    throw new RunnerError(`--port ${base}: not enough ports above it (${ordered.length + 2} needed)`);
  const take = async (port: number, what: string) => {
    try {
      return await probe(port, host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new RunnerError(
          `port ${port} (${what}) is already in use: stop what listens there, or start on other ports with --port <first port> (0 = any free ports)`,
        );
      throw new RunnerError(
        `port ${port} (${what}) cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): pick another with --port`,
      );
    }
  };
  const map = new Map<string, number>();
  for (const [i, s] of ordered.entries())
    map.set(`${s.namespace}/${s.name}`, await take(wanted[i] ?? 0, `service ${s.short}`));
  return {
    services: map,
    broker: await take(brokerWanted, 'broker ingress'),
    sink: await take(sinkWanted, 'KafkaSink ingress'),
  };
}
