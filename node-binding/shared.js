'use strict';
// What `WebSocketServer` and `Server` share. Same-port mode: an existing `http.Server` (the
// Express app's own port) keeps its listeners; WebSocket upgrades under the engine's path are
// handed to the engine by file descriptor, polling requests under it are passed through.
// socket.io's `allowRequest` hook, the native error codes, and binary attachments.

function passThrough(native, req, res, onError) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    native
      .handleHttp(req.method, req.url, req.rawHeaders, body, req.socket.remoteAddress || '0.0.0.0', req.socket.remotePort || 0)
      .then((answer) => {
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

/** Serves `native` on `httpServer` under `prefix`; returns the function that undoes it. */
function attachToHttpServer(native, httpServer, prefix, onError) {
  native.startDetached();
  const onUpgrade = (req, socket, head) => {
    if (!req.url.startsWith(prefix)) return;
    const fd = socket._handle && socket._handle.fd;
    try {
      native.adoptWebsocket(fd, req.method, req.url, req.rawHeaders, head);
    } catch (error) {
      onError(error);
    }
    socket.destroy();
  };
  const others = httpServer.listeners('request');
  const onRequest = (req, res) => {
    if (req.url.startsWith(prefix)) return passThrough(native, req, res, onError);
    for (const listener of others) listener.call(httpServer, req, res);
  };
  httpServer.removeAllListeners('request');
  httpServer.on('request', onRequest);
  httpServer.on('upgrade', onUpgrade);
  return function detach() {
    httpServer.off('upgrade', onUpgrade);
    httpServer.off('request', onRequest);
    for (const listener of others) httpServer.on('request', listener);
  };
}

// A rejection of an async native call: the engine's error code leads its message
// (`ERR_<KIND>: …`, see node-binding/src/error.rs); move it to `code` as synchronous calls have it.
function nativeError(error) {
  const match = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(error && error.message);
  if (match) {
    error.code = match[1];
    error.message = match[2];
  }
  return error;
}

// socket.io's `allowRequest(req, callback)` as the native hook: `callback(err, success)`; a
// refusal's `err` (a string or an Error) becomes the 403 message.
function setAllowRequest(native, hook) {
  if (typeof hook !== 'function') throw new TypeError('allowRequest must be a function (req, callback)');
  native.setAllowRequest(
    (requestJson) =>
      new Promise((resolve) => {
        const request = JSON.parse(requestJson);
        hook(request, (err, success) => {
          if (success) return resolve(null);
          resolve(err == null ? '' : String(err instanceof Error ? err.message : err));
        });
      }),
  );
}

// Replaces `{_placeholder: true, num}` markers with the received Buffers (a copy; JSON values
// without markers come back as they are).
function withAttachments(value, attachments) {
  if (!attachments || attachments.length === 0 || value === null || typeof value !== 'object') return value;
  if (value._placeholder === true && typeof value.num === 'number') return attachments[value.num];
  if (Array.isArray(value)) return value.map((v) => withAttachments(v, attachments));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = withAttachments(v, attachments);
  return out;
}

module.exports = { attachToHttpServer, nativeError, setAllowRequest, withAttachments };
