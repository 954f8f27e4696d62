'use strict';
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

module.exports = { nativeError, TIMEOUT_MESSAGE };
