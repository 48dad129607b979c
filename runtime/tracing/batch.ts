// The batch span processor (OTEL_BSP_*): ended spans wait in a bounded queue and go out in batches, one export
// at a time. Memory is bounded by the queue (OTEL_BSP_MAX_QUEUE_SIZE spans, each bounded by span.ts's limits):
// while the collector is slow or down, spans that do not fit are dropped and counted (queue_full), and a
// batch whose export fails is dropped and counted (export_failed) rather than kept for a retry that would
// hold it in memory. At shutdown, what cannot be exported within the deadline is counted too (shutdown).
import type { TracingObserver } from './index.js';
import type { FinishedSpan } from './span.js';

export interface SpanExporter {
  /** Resolves true when the collector took the batch; never rejects. */
  export(spans: readonly FinishedSpan[], timeoutMs: number): Promise<boolean>;
}

export interface BatchOptions {
  readonly scheduleDelayMs: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly exportTimeoutMs: number;
}

export class BatchProcessor {
  private queue: FinishedSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private exporting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly options: BatchOptions,
    private readonly observer: TracingObserver,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  onEnd(span: FinishedSpan): void {
    if (this.closed || this.queue.length >= this.options.maxQueueSize) {
      this.observer.dropped(this.closed ? 'shutdown' : 'queue_full', 1);
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.options.maxExportBatchSize) this.exportSoon(0);
    else this.exportSoon(this.options.scheduleDelayMs);
  }

  private exportSoon(delayMs: number): void {
    if (this.exporting) return; // the running export goes on with the next batch when it ends
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    // unref: a pending batch never keeps the process alive; shutdown() exports it.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.exportAll();
    }, delayMs).unref();
  }

  /** Exports batch after batch until the queue is empty (the first export already running, if one is). */
  private exportAll(timeoutMs = this.options.exportTimeoutMs): Promise<void> {
    this.exporting ??= (async () => {
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.splice(0, this.options.maxExportBatchSize);
          const ok = await this.exporter.export(batch, timeoutMs);
          if (ok) this.observer.exported(batch.length);
          else this.observer.dropped('export_failed', batch.length);
          // Between batches in normal running, the next full batch or the schedule decides.
          if (!this.closed && this.queue.length < this.options.maxExportBatchSize) break;
        }
      } finally {
        this.exporting = undefined;
        if (this.queue.length > 0 && !this.closed) this.exportSoon(this.options.scheduleDelayMs);
      }
    })();
    return this.exporting;
  }

  /** Exports everything queued, within `timeoutMs`; spans still queued then are dropped and counted. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const deadline = performance.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: shutdown is awaited, and the process must live until its deadline.
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const all = (async () => {
      while (this.queue.length > 0 || this.exporting) {
        const left = deadline - performance.now();
        if (left <= 0) return;
        await (this.exporting ?? this.exportAll(Math.max(1, Math.min(this.options.exportTimeoutMs, left))));
      }
    })();
    await Promise.race([all, expired]);
    clearTimeout(timer);
    if (this.queue.length > 0) {
      this.observer.dropped('shutdown', this.queue.length);
      this.queue = [];
    }
  }
}
