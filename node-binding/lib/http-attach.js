'use strict';
// @ts-check
// Same-port mode: an existing `http.Server` (the app's own port) keeps its listeners; WebSocket
// upgrades under the engine's path are handed to the engine by file descriptor, polling requests
// under it are passed through to the engine and answered from here.

/**
 * @typedef {object} HttpEngine what of an engine (NativeIo or NativeServer) serving needs
 * @property {() => void} startDetached
 * @property {(fd: number, method: string, url: string, rawHeaders: string[], head: Buffer) => void} adoptWebsocket
 * @property {(method: string, url: string, rawHeaders: string[], body: Buffer, address: string, port: number) => Promise<{status: number, headers: string[], body: Buffer}>} handleHttp
 */

/**
 * @param {HttpEngine} engine
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {(error: Error) => void} onError
 */
function passThrough(engine, req, res, onError) {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    engine
      .handleHttp(String(req.method), String(req.url), req.rawHeaders, body, req.socket.remoteAddress || '0.0.0.0', req.socket.remotePort || 0)
      .then((answer) => {
        /** @type {Record<string, string>} */
        const headers = {};
        for (let i = 0; i < answer.headers.length; i += 2) headers[answer.headers[i]] = answer.headers[i + 1];
        res.writeHead(answer.status, headers);
        res.end(answer.body);
      })
      .catch((error) => {
        res.writeHead(500);
        res.end();
        onError(error);
      });
  });
}

/**
 * Serves `engine` on `httpServer` under `prefix`; returns the function that undoes it.
 * @param {HttpEngine} engine
 * @param {import('node:http').Server} httpServer
 * @param {string} prefix
 * @param {(error: Error) => void} onError
 * @returns {() => void}
 */
function attachToHttpServer(engine, httpServer, prefix, onError) {
  engine.startDetached();
  /** @type {(req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void} */
  const onUpgrade = (req, socket, head) => {
    if (!String(req.url).startsWith(prefix)) return;
    const handle = /** @type {any} */ (socket)._handle;
    try {
      engine.adoptWebsocket(handle && handle.fd, String(req.method), String(req.url), req.rawHeaders, head);
    } catch (error) {
      onError(/** @type {Error} */ (error));
    }
    socket.destroy();
  };
  const others = httpServer.listeners('request');
  /** @type {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void} */
  const onRequest = (req, res) => {
    if (String(req.url).startsWith(prefix)) return passThrough(engine, req, res, onError);
    for (const listener of others) listener.call(httpServer, req, res);
  };
  httpServer.removeAllListeners('request');
  httpServer.on('request', onRequest);
  httpServer.on('upgrade', onUpgrade);
  return function detach() {
    httpServer.off('upgrade', onUpgrade);
    httpServer.off('request', onRequest);
    for (const listener of others) httpServer.on('request', /** @type {any} */ (listener));
  };
}

module.exports = { attachToHttpServer };
