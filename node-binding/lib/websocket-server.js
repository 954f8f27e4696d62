'use strict';
// @ts-check
// The dashboard's `WebSocketServer` over the engine's preset (`NativeServer`): the seed's auth
// hand-off, user rooms, subscriptions, limits, stats and shutdown live in Rust; this class turns
// JavaScript values into JSON text once per call and engine notifications into its events.

const { EventEmitter } = require('node:events');
const { binding, fast } = require('./binding.js');
const { presetOptions } = require('./options.js');
const { attachToHttpServer } = require('./http-attach.js');
const { setAllowRequest } = require('./allow-request.js');
const { nativeError } = require('./errors.js');
const { withAttachments, jsonPayload } = require('./args.js');
const { Server } = require('./server.js');

// Event names of this EventEmitter itself; client events with these names arrive as
// `clientEvent` only.
const RESERVED = new Set(['connection', 'disconnect', 'listening', 'close', 'error', 'clientEvent', 'newListener', 'removeListener']);

// The validator's answer → what the engine expects: identity JSON (the engine checks its
// shape, `{userId, userName?, userRole?}`), or null to reject.
function normalizeIdentity(result) {
  if (result === null || result === undefined || result === false) return null;
  return JSON.stringify(result);
}

// Batch item and field separators (see native emitBatch); JSON text never contains them raw.
// eslint-disable-next-line no-control-regex -- the separators are control characters on purpose
const SEPARATORS = /[\x1e\x1f]/;

class WebSocketServer extends EventEmitter {
  constructor(options = {}) {
    super();
    this.options = options;
    this._native = new binding.NativeServer(presetOptions(options));
    this._handle = this._native.handle();
    this._native.setEventHandler((event) => this._dispatch(event));
    if (options.allowRequest !== undefined) setAllowRequest(this._native, options.allowRequest);
    // Connection and disconnect events cross from Rust only while someone listens for them.
    // `newListener` fires before the listener is added, `removeListener` after it is removed.
    const lifecycle = (added) => (name) => {
      if (name !== 'connection' && name !== 'disconnect') return;
      const count = (n) => this.listenerCount(n) + (added && n === name ? 1 : 0);
      this._native.setLifecycleListeners(count('connection') > 0, count('disconnect') > 0);
    };
    this.on('newListener', lifecycle(true));
    this.on('removeListener', lifecycle(false));
    /** @type {(value?: unknown) => void} */
    this._resolveClosed = () => {};
    this._closed = new Promise((resolve) => (this._resolveClosed = resolve));
    this.listening = new Promise((resolve, reject) => {
      this._resolveListening = resolve;
      this._rejectListening = reject;
    });
    this.listening.catch(() => {});
    this.port = undefined;
  }

  /**
   * `fn(auth, handshake)` resolves to `{userId, userName, userRole}` to accept, `null`/`false`
   * to reject (UNAUTHORIZED), and throws or rejects for a failure (AUTHENTICATION_FAILED).
   */
  setAuthMiddleware(fn) {
    if (typeof fn !== 'function') throw new TypeError('setAuthMiddleware expects a function');
    this._native.setValidator((requestJson) =>
      Promise.resolve()
        .then(() => {
          const request = JSON.parse(requestJson);
          return fn(request.auth, { headers: request.headers, address: request.address, port: request.port });
        })
        .then(normalizeIdentity),
    );
    return this;
  }

  /** Listens on its own port. Resolves when the server has shut down. */
  /** Without arguments: the configured address (127.0.0.1, any free port, by default). */
  async listen(port, host) {
    try {
      ({ port: this.port, host } = await this._native.start(port, host));
    } catch (raw) {
      const error = nativeError(raw);
      this._rejectListening(error);
      throw error;
    }
    // The engine's threads and its weak callbacks do not keep Node's event loop alive, and a
    // pending promise does not either: hold one timer until shutdown, as a net.Server would.
    this._keepAlive = setInterval(() => {}, 2 ** 30);
    this._resolveListening({ port: this.port, host });
    this.emit('listening', this.port);
    return this._closed;
  }

  /**
   * Serves Socket.IO on an existing `http.Server` (the Express app's own port): WebSocket
   * upgrades are handed to the engine by file descriptor, polling requests are passed through.
   */
  /**
   * @param {import('node:http').Server} httpServer
   * @param {{ path?: string }} [options]
   */
  attach(httpServer, { path } = {}) {
    const prefix = path || this._native.path();
    this._detach = attachToHttpServer(this._native, httpServer, prefix, (error) => this._fail(error));
    this._resolveListening({ attached: true });
    return this;
  }

  /** Undoes `attach`: the http.Server gets its own request listeners back. */
  detach() {
    if (this._detach) this._detach();
    this._detach = undefined;
    return this;
  }

  // An 'error' event without a listener would crash the host; report it instead.
  _fail(error) {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('roomcast:', error);
  }

  _dispatch(event) {
    const socket = { id: event.socketId, userId: event.userId, userName: event.userName, userRole: event.userRole };
    if (event.kind === 'connection') return this.emit('connection', socket);
    if (event.kind === 'disconnect') return this.emit('disconnect', socket, event.name);
    let args;
    try {
      args = withAttachments(JSON.parse(event.args), event.attachments);
    } catch {
      args = [];
    }
    const ack = event.ackId ? (...values) => this._native.ack(event.ackId, JSON.stringify(values)) : undefined;
    if (!RESERVED.has(event.name) && this.listenerCount(event.name) > 0) {
      this.emit(event.name, socket, ...args, ...(ack ? [ack] : []));
    } else {
      this.emit('clientEvent', socket, event.name, args, ack);
    }
  }

  emitToUser(userId, event, data) {
    if (Buffer.isBuffer(data)) return this._native.emitBinaryToUser(userId, event, data);
    return fast.emitToUser(this._handle, userId, event, jsonPayload(data), false);
  }

  emitToRoom(room, event, data) {
    if (Buffer.isBuffer(data)) return this._native.emitBinaryToRoom(room, event, data);
    return fast.emitToRoom(this._handle, room, event, jsonPayload(data), false);
  }

  emitToAll(event, data) {
    return binding.emitToAll(this._handle, event, jsonPayload(data), false);
  }

  /** Emits JSON text you already have (validated by the engine, not re-serialized). */
  emitJsonToRoom(room, event, json) {
    return fast.emitToRoom(this._handle, room, event, json, true);
  }

  /** `[{userId | room, event, data}]` in one native call; returns total deliveries. */
  /**
   * Many emits in one native call. Items: `{room | userId, event, data}` (serialized here) or
   * `{room | userId, event, json}` (JSON text you already have; validated). Returns deliveries.
   */
  emitBatch(items) {
    // Raw control characters are never valid JSON text; inside a batch they could fake an item.
    for (const item of items) {
      if (item.json !== undefined && SEPARATORS.test(String(item.json))) throw new TypeError('payload must be JSON text');
    }
    let packed = [];
    let validate = false;
    let delivered = 0;
    const flush = () => {
      if (packed.length) delivered += binding.emitBatch(this._handle, packed.join('\x1e'), validate);
      packed = [];
      validate = false;
    };
    for (const item of items) {
      const room = item.room !== undefined ? String(item.room) : `user:${item.userId}`;
      const event = String(item.event);
      const json = item.json !== undefined ? String(item.json) : jsonPayload(item.data);
      if (SEPARATORS.test(room) || SEPARATORS.test(event)) {
        // Names that contain the batch separators travel on their own, in order.
        flush();
        delivered += fast.emitToRoom(this._handle, room, event, json, item.json !== undefined);
        continue;
      }
      validate ||= item.json !== undefined;
      packed.push(`${room}\x1f${event}\x1f${json}`);
    }
    flush();
    return delivered;
  }

  disconnectUser(userId, reason) {
    return this._native.disconnectUser(userId, reason);
  }

  getStats() {
    return JSON.parse(this._native.statsJson());
  }

  health() {
    return JSON.parse(this._native.healthJson());
  }

  metrics() {
    return this._native.metrics();
  }

  subscriptionCount(userId) {
    return this._native.subscriptionCount(userId);
  }

  /** socket.io's `socket.handshake` of a connected socket, or undefined. */
  getHandshake(socketId) {
    const json = this._native.handshakeJson(socketId);
    return json == null ? undefined : JSON.parse(json);
  }

  /** The data attached to a connected socket (socket.io's `socket.data`), or undefined. */
  getSocketData(socketId) {
    const json = this._native.socketDataJson(socketId);
    return json == null ? undefined : JSON.parse(json) ?? undefined;
  }

  /** Attaches JSON-serializable data to a connected socket; false when it is not connected. */
  setSocketData(socketId, data) {
    return this._native.setSocketData(socketId, jsonPayload(data));
  }

  /** The dashboard's shutdown: `server:shutdown` to all, wait `graceMs`, close everything. */
  /** Without `graceMs`: the configured `shutdownGrace`. */
  async shutdown(graceMs) {
    await this._native.shutdown(graceMs).catch((error) => {
      throw nativeError(error);
    });
    clearInterval(this._keepAlive);
    this._resolveClosed();
    this.emit('close');
  }

  /**
   * socket.io's Server API on this engine: namespaces beside the dashboard's `/` (for example
   * `ws.io.of('/orders').on('connection', …)`), sharing its connections, port and shutdown.
   */
  get io() {
    if (!this._io) this._io = new Server(undefined, undefined, { engine: this._native.io() });
    return this._io;
  }
}

module.exports = { WebSocketServer };
