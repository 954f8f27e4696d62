'use strict';
// @ts-check
// socket.io's `socket.request`: there the handshake's `http.IncomingMessage`. The engine parsed
// and answered that request natively, so this is what apps read of it, built from the
// handshake: `url`, `headers`, `method`, `httpVersion`, the peer on `socket`/`connection`, and
// `_query`. It is not a stream.

/**
 * @typedef {object} HandshakeRequest
 * @property {string | undefined} url
 * @property {Record<string, string>} headers
 * @property {string} method
 * @property {string} httpVersion
 * @property {{ remoteAddress: string | undefined, encrypted: boolean }} socket
 * @property {{ remoteAddress: string | undefined, encrypted: boolean }} connection
 * @property {Record<string, unknown>} _query
 */

/**
 * @param {{ url?: string, headers?: Record<string, string>, address?: string, secure?: boolean, query?: Record<string, unknown> }} handshake
 * @returns {HandshakeRequest}
 */
function handshakeRequest(handshake) {
  const peer = { remoteAddress: handshake.address, encrypted: !!handshake.secure };
  return {
    url: handshake.url,
    headers: handshake.headers ?? {},
    method: 'GET',
    httpVersion: '1.1',
    socket: peer,
    connection: peer,
    _query: handshake.query ?? {},
  };
}

module.exports = { handshakeRequest };
