// Whether the dead-letter database can be used right now. While it is unreachable or too slow
// (DLQ_DATABASE_TIMEOUT_MS) every statement is answered 503 at once (Knative keeps the event and retries),
// notReady() says why (/readyz 503), and a probe checks again with backoff (250 ms doubling to 2 s): the store
// recovers on its own, no restart needed. The schema is created or migrated by the first check that reaches it.
import type { Pool, PoolClient } from 'pg';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { migrate } from './postgres-schema.js';

const probeStartMs = 250;
const probeMaxMs = 2000;

/** Network errors, timeouts, a server shutting down or out of connections: "the database is not there". */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '57014';
}

/** Never the URL or the password; pg's messages name the host, the user or the cause. */
export function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return `${typeof e.message === 'string' ? e.message : String(err)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`;
}

export interface AvailabilityOptions {
  readonly pool: Pool;
  readonly schema: string;
  /** The dead-letter table: a probe reads it, not just the server. */
  readonly letters: string;
  readonly log: Logger;
  /** Called each time the database is found reachable (start-up included): retention starts then. */
  readonly onReachable: () => void;
}

export class DatabaseAvailability {
  private schemaReady = false;
  private down: string | undefined = 'starting: checking the dead_letters table';
  private closed = false;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AvailabilityOptions) {
    // An idle connection that breaks (the server restarts) is reported here; unhandled, it would end the process.
    options.pool.on('error', (err) => this.markDown(err));
  }

  /**
   * The first check is awaited (bounded by DLQ_DATABASE_TIMEOUT_MS) so a healthy start is ready at once; if
   * the database is not there yet, the probe keeps trying and /readyz says why meanwhile.
   */
  async start(): Promise<void> {
    try {
      await this.ensureSchema();
      this.down = undefined;
      this.options.onReachable();
    } catch (err) {
      this.markDown(err);
    }
  }

  notReady(): string | undefined {
    return this.down === undefined ? undefined : `dead-letter database: ${this.down}`;
  }

  /** Runs a statement; a failure that means "database not there" turns readiness off. Always 503 to callers. */
  async use<T>(run: () => Promise<T>): Promise<T> {
    if (!this.schemaReady || this.down !== undefined) {
      throw new HttpError(503, 'store_failed', 'the dead-letter database is not available right now; try again');
    }
    try {
      return await run();
    } catch (err) {
      if (isUnavailable(err)) this.markDown(err);
      else this.options.log.error({ error: describe(err), store: 'postgres' }, 'dead-letter database statement failed');
      throw new HttpError(503, 'store_failed', 'the dead-letter database could not complete the request; try again', {
        cause: err,
      });
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private markDown(err: unknown): void {
    const reason = describe(err);
    if (this.down === undefined)
      this.options.log.error(
        { error: reason, store: 'postgres' },
        'dead-letter database unavailable: answering 503 until it is back',
      );
    this.down = reason;
    this.scheduleProbe(probeStartMs);
  }

  private scheduleProbe(delayMs: number): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe(delayMs);
    }, delayMs);
    this.probeTimer.unref();
  }

  private async ensureSchema(): Promise<void> {
    const { pool, schema, log } = this.options;
    const client: PoolClient = await pool.connect();
    try {
      const applied = await migrate(client, schema);
      if (applied > 0) log.info({ schema, steps: applied }, 'dead-letter database: schema created or migrated');
    } finally {
      client.release();
    }
    this.schemaReady = true;
  }

  private async probe(lastDelayMs: number): Promise<void> {
    const { pool, letters, log } = this.options;
    try {
      if (!this.schemaReady) await this.ensureSchema();
      // The table, not just the server: a lock held on it (a long migration, a VACUUM FULL) is "too slow" too.
      else await pool.query(`SELECT seq FROM ${letters} LIMIT 1`);
      if (this.down !== undefined)
        log.info({ store: 'postgres' }, 'dead-letter database reachable: taking dead letters again');
      this.down = undefined;
      this.options.onReachable();
    } catch (err) {
      if (this.down === undefined || describe(err) !== this.down)
        log.error({ error: describe(err), store: 'postgres' }, 'dead-letter database still unavailable');
      this.down = describe(err);
      this.scheduleProbe(Math.min(lastDelayMs * 2, probeMaxMs));
    }
  }
}
