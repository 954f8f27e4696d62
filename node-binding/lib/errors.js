'use strict';
// @ts-check
// The engine's errors as JavaScript sees them, and socket.io's error texts.

/**
 * A rejection of an async native call: the engine's error code leads its message
 * (`ERR_<KIND>: …`, see node-binding/src/error.rs); move it to `code` as synchronous calls have it.
 * @param {any} error
 * @returns {Error & { code?: string }}
 */
function nativeError(error) {
  const match = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(error && error.message);
  if (match) {
    error.code = match[1];
    error.message = match[2];
  }
  return error;
}

/** What socket.io's acks with a timeout reject with. */
const TIMEOUT_MESSAGE = 'operation has timed out';

// Names the client library keeps for its own lifecycle: socket.io refuses to emit them.
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/**
 * Throws socket.io's error for an emit of a reserved event name.
 * @param {string | symbol} event
 */
function refuseReserved(event) {
  if (RESERVED_EVENTS.has(/** @type {string} */ (event))) throw new Error(`"${String(event)}" is a reserved event name`);
}

/**
 * Whether an `emit` is the emitter's own: a symbol, or EventEmitter's `newListener` and
 * `removeListener` (it emits them through `emit` itself).
 * @param {string | symbol} event
 */
const isEmitterEvent = (event) => typeof event !== 'string' || event === 'newListener' || event === 'removeListener';

module.exports = { nativeError, TIMEOUT_MESSAGE, refuseReserved, isEmitterEvent };
