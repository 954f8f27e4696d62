'use strict';
// @ts-check
// Loads the native addon (napi-rs's generated loader, native.js), and says which platform lacks
// a binary when there is none for this one. Every other module reaches the engine through this
// one, and the hot emits through `fast`, installed once.

/** @type {typeof import('../native.js')} */
let binding;
try {
  binding = require('../native.js');
} catch (cause) {
  const error = new Error(
    `roomcast: no native binary for ${process.platform}-${process.arch}. ` +
      'This package ships one for linux-x64-gnu; on other platforms build it from source ' +
      '(`npm run build` in the roomcast repository).',
  );
  Object.assign(error, { code: 'ERR_ROOMCAST_NO_BINARY', cause });
  throw error;
}

/**
 * The hot single emits as plain Node-API callbacks (see node-binding/src/fast_emit.rs): no
 * class wrapping, arguments read straight from the call.
 * @type {{
 *   emitToNamespaceRoom(handle: number, room: string, event: string, json: string): number,
 *   emitToUser(handle: number, userId: string, event: string, json: string, validate: boolean): number,
 *   emitToRoom(handle: number, room: string, event: string, json: string, validate: boolean): number,
 * }}
 */
const fast = /** @type {any} */ ({});
binding.installFastEmits(fast);

module.exports = { binding, fast };
