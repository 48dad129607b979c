// The rest of the admin API: GET /dead-letters/audit (every replay and purge, newest first), GET
// /dead-letters/settings (what the console needs: the store, the replay targets, the rates) and the console's
// own files under /dead-letters/ui (dlq/console/), which need no token to load.
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { AdminContext, Handler } from './admin-context.js';
import { parseLimit, query, reading } from './admin-request.js';

export const auditLog =
  (c: AdminContext): Handler =>
  async (ctx) => {
    const { state } = c.options;
    const cursor = query(ctx, 'cursor');
    if (cursor !== undefined && !state.validAuditCursor(cursor))
      throw new HttpError(400, 'bad_request', 'cursor must be a value returned as nextCursor');
    const page = await reading(() => state.listAudit(parseLimit(query(ctx, 'limit')), cursor));
    ctx.body = { success: true, items: page.items, nextCursor: page.nextCursor };
  };

export const settings =
  (c: AdminContext): Handler =>
  (ctx) => {
    const { store, replayer, rates } = c.options;
    ctx.body = {
      success: true,
      store: store.kind,
      readable: store.query !== undefined,
      targets: {
        destination: true,
        broker: replayer?.targets.brokerUrl ?? null,
        allowed: replayer?.targets.allowed ?? [],
      },
      rate: rates,
    };
    return Promise.resolve();
  };

export async function serveConsole(ctx: RequestContext, file: string | undefined): Promise<void> {
  // Imported only when the page is asked for: no other request or role pays for the console's bytes.
  const { consoleAsset, consoleHeaders } = await import('./console/assets.js');
  const asset = consoleAsset(file ?? 'index.html');
  if (!asset) throw new HttpError(404, 'not_found', `no console file ${JSON.stringify(file)}`);
  for (const [name, value] of Object.entries(consoleHeaders)) ctx.set(name, value);
  ctx.set('Content-Type', asset.type);
  ctx.body = asset.body;
}
