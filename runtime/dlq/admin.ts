// The dead-letter admin API, behind the bearer token in DLQ_ADMIN_TOKEN (docs/sink-forwarder-and-dlq.md):
//   GET    /dead-letters                        newest first; filters ?type= &source= &code= &destination= &replayed=
//                                               &receivedFrom= &receivedTo= (ISO 8601), &limit= &cursor=
//   GET    /dead-letters/<id>                   one dead letter, with its replay marker
//   POST   /dead-letters/<id>/replay            ?to=destination|broker|<allow-listed url> &force=true &dryRun=true
//   DELETE /dead-letters/<id>                   purge one (?dryRun=true: is it there)
//   POST   /dead-letters/replays                a bulk replay job over the list's filters (or ?ids=a,b), ?to= &rate= &force= &dryRun=
//   GET    /dead-letters/replays                the latest jobs;  GET /dead-letters/replays/<job>: its progress
//   POST   /dead-letters/replays/<job>/cancel   and  /resume (an interrupted or failed job)
//   POST   /dead-letters/purge                  by ?ids=a,b or by the list's filters (or all=true); ?dryRun=true counts
//   GET    /dead-letters/audit                  every replay and purge, newest first
//   GET    /dead-letters/settings               what the console needs: targets, rates, the store
//   GET    /dead-letters/ui                     the console (dlq/console/): static files, no token needed to load
//                                               them; every call it makes carries the token
// `POST /dead-letters/replay` (the old batch replay) starts a job too. Every replay and purge is audited with
// the caller's label (X-Dlq-Caller) and a fingerprint of the token.
//
// This module is the route table and the token check; each resource has its module: admin-letters.ts (dead
// letters), admin-jobs.ts (replay jobs), admin-settings.ts (audit, settings, console), sharing admin-context.ts
// (the store, replayer, audit log) and admin-request.ts (how a request's parameters are read).
import { bearerTokenMatches } from '../http/bearer.js';
import { HttpError } from '../http/errors.js';
import type { RequestContext } from '../http/request-state.js';
import type { Route } from '../roles/role.js';
import { adminContext, type AdminOptions, type Handler } from './admin-context.js';
import { jobAction, listJobs, showJob, startJob } from './admin-jobs.js';
import { listLetters, purgeLetter, purgeLetters, replayLetter, showLetter } from './admin-letters.js';
import { auditLog, serveConsole, settings } from './admin-settings.js';

export type { AdminOptions } from './admin-context.js';

function authorise(ctx: RequestContext, token: string): void {
  ctx.set('WWW-Authenticate', 'Bearer realm="dead-letters"');
  if (!bearerTokenMatches(ctx.get('authorization') || undefined, token)) {
    throw new HttpError(
      401,
      'unauthorized',
      'the dead-letter admin API needs "Authorization: Bearer <DLQ_ADMIN_TOKEN>"',
    );
  }
  ctx.remove('WWW-Authenticate');
  ctx.set('Cache-Control', 'no-store');
}

export function adminRoutes(options: AdminOptions): Route[] {
  const c = adminContext(options);
  // Method, path (under /dead-letters), handler; `open` routes need no token. The router takes the first
  // that matches, so the fixed paths come before the `:id` ones they would otherwise match.
  const table: Array<{ method: Route['method']; path: string; handle: Handler; open?: boolean }> = [
    { method: 'GET', path: '', handle: listLetters(c) },
    { method: 'GET', path: '/ui', handle: (ctx) => serveConsole(ctx, undefined), open: true },
    // The page's links are relative to /dead-letters/ui (so it works under any path prefix): no trailing slash.
    { method: 'GET', path: '/ui/', handle: (ctx) => Promise.resolve(ctx.redirect('../ui')), open: true },
    { method: 'GET', path: '/ui/:file', handle: (ctx, [file]) => serveConsole(ctx, file), open: true },
    { method: 'GET', path: '/settings', handle: settings(c) },
    { method: 'GET', path: '/audit', handle: auditLog(c) },
    { method: 'GET', path: '/replays', handle: listJobs(c) },
    { method: 'GET', path: '/replays/:job', handle: showJob(c) },
    { method: 'POST', path: '/replays', handle: startJob(c) },
    { method: 'POST', path: '/replay', handle: startJob(c) },
    { method: 'POST', path: '/replays/:job/cancel', handle: jobAction(c, 'cancel') },
    { method: 'POST', path: '/replays/:job/resume', handle: jobAction(c, 'resume') },
    { method: 'POST', path: '/purge', handle: purgeLetters(c) },
    { method: 'POST', path: '/:id/replay', handle: replayLetter(c) },
    { method: 'DELETE', path: '/:id', handle: purgeLetter(c) },
    { method: 'GET', path: '/:id', handle: showLetter(c) },
  ];
  return table.map(({ method, path, handle, open }) => ({
    method,
    path: `/dead-letters${path}`,
    handle: open
      ? handle
      : (ctx, params) => {
          authorise(ctx, options.token);
          return handle(ctx, params);
        },
  }));
}
