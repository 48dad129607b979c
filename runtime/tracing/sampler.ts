// The sampler OTEL_TRACES_SAMPLER names. Ratio sampling decides from the trace id alone, so every hop (and
// every replica) that sees a trace makes the same choice: the W3C "random" low 56 bits (Trace Context level 2)
// compared against ratio × 2^56; parent-based samplers follow the caller's sampled flag.
import { isSampled, type SpanContext } from './context.js';
import type { SamplerName } from './config.js';

export type Sampler = (traceId: string, parent: SpanContext | undefined) => boolean;

const range = 2 ** 56;

export function ratioSampler(ratio: number): (traceId: string) => boolean {
  if (ratio >= 1) return () => true;
  if (ratio <= 0) return () => false;
  const bound = Math.floor(ratio * range);
  return (traceId) => parseInt(traceId.slice(18), 16) < bound;
}

export function createSampler(name: SamplerName, ratio: number): Sampler {
  const root = name.endsWith('always_on')
    ? () => true
    : name.endsWith('always_off')
      ? () => false
      : ratioSampler(ratio);
  if (!name.startsWith('parentbased_')) return (traceId) => root(traceId);
  return (traceId, parent) => (parent ? isSampled(parent) : root(traceId));
}
