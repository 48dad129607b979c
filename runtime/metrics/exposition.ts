// Renders a registry in the Prometheus text format or, when the scraper asks for it, in OpenMetrics.
// prom-client formats OpenMetrics only for a registry created for it, and renaming counters in place while
// doing so (it strips `_total` from the shared metric object); so an OpenMetrics scrape renders through a
// throwaway registry of thin views that carry the family name and leave the real metrics untouched.
import type { Metric, OpenMetricsContentType } from 'prom-client';
import { Registry } from './prom-client.js';

export const prometheusContentType = Registry.PROMETHEUS_CONTENT_TYPE;
export const openMetricsContentType = Registry.OPENMETRICS_CONTENT_TYPE;

/** The quality the Accept header gives a media type (0 when absent); parameters other than q are ignored. */
function quality(accept: string, mediaType: string): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== mediaType) continue;
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (Number.isFinite(value)) best = Math.max(best, value);
  }
  return best;
}

/** OpenMetrics only when asked for and preferred at least as much as the classic text format. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  const openMetrics = quality(accept, 'application/openmetrics-text');
  return openMetrics > 0 && openMetrics >= quality(accept, 'text/plain');
}

interface MetricView {
  name: string;
  readonly help: string;
  readonly type: string;
  get(): Promise<unknown>;
}

const familyName = (metric: { name: string; type: string }) =>
  metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;

/** prom-client's typings omit the constructor that takes the content type. */
const OpenMetricsRegistry = Registry as unknown as new (
  contentType: OpenMetricsContentType,
) => Registry<OpenMetricsContentType>;

function openMetricsView(metric: unknown): MetricView {
  const inner = metric as { name: string; help: string; type: string; get(): Promise<{ name: string; type: string }> };
  return {
    name: familyName(inner),
    help: inner.help,
    type: inner.type,
    async get() {
      const value = await inner.get();
      return { ...value, name: familyName(value) };
    },
  };
}

export async function render(registry: Registry, openMetrics: boolean): Promise<{ contentType: string; body: string }> {
  if (!openMetrics) return { contentType: prometheusContentType, body: await registry.metrics() };
  const views = new OpenMetricsRegistry(openMetricsContentType);
  for (const metric of registry.getMetricsAsArray()) views.registerMetric(openMetricsView(metric) as unknown as Metric);
  return { contentType: openMetricsContentType, body: await views.metrics() };
}
