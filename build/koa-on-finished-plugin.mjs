// Koa's application.js calls `onFinished(res, onerror)` for every request. The on-finished package wraps the
// listener in an AsyncResource and, through ee-first, adds and removes four listeners (res 'end'/'finish',
// socket 'error'/'close'): about 15 µs of CPU a request in the profile of issue 19, for a callback that does
// something only when the socket failed. In the bundle, application.js gets a stand-in that adds one
// res.once('close') and passes on the socket's error, if it had one: what on-finished would have reported.
// response.js keeps the real on-finished (a streamed body is destroyed when the response ends).
import { readFileSync } from 'node:fs';

const namespace = 'koa-on-finished';
const applicationFile = /[\\/]node_modules[\\/]koa[\\/]lib[\\/]application\.js$/;
// The one call the stand-in is written for. If Koa calls it otherwise, or more than once, the stand-in may no
// longer be what Koa expects: the build stops rather than ship a bundle that drops errors or listeners.
const expectedCall = 'onFinished(res, onerror)';

/**
 * `res` 'close' comes after 'finish' or when the connection died first, once either way. Koa's `onerror`
 * ignores a call without an error, so only a failed socket is reported, as on-finished reports it.
 */
const standIn = `module.exports = function onFinished(res, listener) {
  res.once('close', () => {
    const error = res.socket?.errored ?? res.errored ?? null;
    if (error) listener(error, res);
  });
  return res;
};
`;

/** @param {string} path Koa's application.js */
function checkKoaStillMatches(path) {
  const source = readFileSync(path, 'utf8');
  const calls = source.split('onFinished(').length - 1;
  if (calls !== 1 || !source.includes(expectedCall))
    throw new Error(
      `${path}: expected exactly one "${expectedCall}" (found ${calls} onFinished calls); review build/koa-on-finished-plugin.mjs`,
    );
}

/** @type {import('esbuild').Plugin} */
export const koaOnFinished = {
  name: 'koa-on-finished',
  setup(b) {
    let seen = false;
    b.onResolve({ filter: /^on-finished$/ }, (args) => {
      if (!applicationFile.test(args.importer)) return undefined;
      checkKoaStillMatches(args.importer);
      seen = true;
      return { path: 'on-finished', namespace };
    });
    b.onLoad({ filter: /.*/, namespace }, () => ({ contents: standIn, loader: 'js' }));
    b.onEnd((result) => {
      // Koa no longer importing on-finished from application.js would leave this plugin silently unused.
      if (result.errors.length === 0 && !seen)
        throw new Error(
          'koa/lib/application.js no longer imports on-finished; review build/koa-on-finished-plugin.mjs',
        );
    });
  },
};
