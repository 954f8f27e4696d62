'use strict';
// @ts-check
// socket.io's `allowRequest(req, callback)` as the engine's hook: `callback(err, success)`; a
// refusal's `err` (a string or an Error) becomes the 403 message.

/**
 * @param {{ setAllowRequest(hook: (requestJson: string) => Promise<string | null>): void }} engine
 * @param {unknown} hook
 */
function setAllowRequest(engine, hook) {
  if (typeof hook !== 'function') throw new TypeError('allowRequest must be a function (req, callback)');
  engine.setAllowRequest(
    (requestJson) =>
      new Promise((resolve) => {
        const request = JSON.parse(requestJson);
        hook(request, (/** @type {unknown} */ err, /** @type {boolean} */ success) => {
          if (success) return resolve(null);
          resolve(err == null ? '' : String(err instanceof Error ? err.message : err));
        });
      }),
  );
}

module.exports = { setAllowRequest };
