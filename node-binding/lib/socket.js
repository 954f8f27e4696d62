'use strict';
// @ts-check
// socket.io's server-side `Socket`: one client's connection to one namespace. The engine owns
// the connection, its rooms and its queue; this object keeps the JavaScript listeners and the
// per-emit flags, and turns the engine's notifications (an event, the close) into its events.

const { EventEmitter } = require('node:events');
const { encodeArgs, decodeArgs } = require('./args.js');
const { TIMEOUT_MESSAGE, refuseReserved, isEmitterEvent } = require('./errors.js');
const { BroadcastOperator, NO_ROOMS } = require('./broadcast-operator.js');
const { handshakeRequest } = require('./handshake-request.js');

// Event names a socket emits itself; a client cannot trigger them.
const SOCKET_EVENTS = new Set(['disconnect', 'disconnecting', 'error', 'newListener', 'removeListener']);

/** @typedef {(event: string, ...args: any[]) => void} AnyListener */
/** @typedef {(packet: any[], next: (err?: Error) => void) => void} PacketMiddleware */

class Socket extends EventEmitter {
  /**
   * A socket-to-be (what connect middlewares get) until `_attach` connects it.
   * @param {import('./namespace.js').Namespace} nsp
   * @param {import('../native.js').NativeIo} engine
   * @param {string} id
   * @param {any} [handshake] what the middlewares see of the handshake
   */
  constructor(nsp, engine, id, handshake) {
    super();
    this.nsp = nsp;
    this.id = id;
    this.recovered = false;
    this.connected = false;
    this._engine = engine;
    /** @type {any} */
    this._data = {};
    this._syncedData = '{}';
    /** @type {AnyListener[]} */
    this._anyListeners = [];
    /** @type {AnyListener[]} */
    this._anyOutgoing = [];
    /** @type {PacketMiddleware[]} */
    this._middlewares = [];
    /** @type {any} */
    this._handshake = handshake;
    /** @type {import('./handshake-request.js').HandshakeRequest | undefined} */
    this._request = undefined;
    /** @type {string[]} */
    this._lastRooms = [id];
    /** @type {number | undefined} */
    this._timeout = undefined;
    this._volatile = false;
    this._compress = true;
    // Once narrowed, only events with a listener cross from the engine (see `_narrow`).
    this._narrowed = false;
    this.on('newListener', (name) => {
      if (this._narrowed && typeof name === 'string' && !SOCKET_EVENTS.has(name)) {
        this._engine.handleAlso(this.nsp.name, this.id, name);
      }
    });
  }

  /**
   * The engine admitted the socket: it is connected, with the data the middlewares (or a
   * recovery) left.
   * @param {boolean} recovered
   * @param {string | null | undefined} dataJson
   */
  _attach(recovered, dataJson) {
    this.recovered = recovered;
    this.connected = true;
    const json = dataJson || '{}';
    if (json !== this._syncedData) this._data = JSON.parse(json);
    this._syncedData = json;
    this._handshake = undefined; // the engine's has it all (url, time, issued)
    this._request = undefined;
  }

  // After the connection handlers ran: from now on the engine sends only events this socket has
  // listeners for (socket.io drops the others too), unless `onAny` or `use` want every event.
  _narrow() {
    if (!this.connected || this._anyListeners.length || this._middlewares.length) return;
    const names = this.eventNames().filter((n) => typeof n === 'string' && !SOCKET_EVENTS.has(n));
    this._engine.handleOnly(this.nsp.name, this.id, /** @type {string[]} */ (names));
    this._narrowed = true;
  }

  _widen() {
    if (!this._narrowed) return;
    this._narrowed = false;
    this._engine.handleAll(this.nsp.name, this.id);
  }

  get server() {
    return this.nsp.server;
  }

  /** socket.io's `socket.data`: kept in the engine too (other servers fetch it, recovery restores it). */
  get data() {
    return this._data;
  }

  set data(value) {
    this._data = value;
    this._syncData();
  }

  // Hands `data` to the engine when it changed since the last time: after every handler run, so
  // in-place changes (`socket.data.user = …`) reach it too.
  _syncData() {
    if (!this.connected) return;
    let json;
    try {
      json = JSON.stringify(this._data ?? null) ?? 'null';
    } catch {
      return; // not JSON (a cycle): kept in JavaScript only, as it cannot cross
    }
    if (json === this._syncedData) return;
    this._syncedData = json;
    this._engine.setData(this.nsp.name, this.id, json);
  }

  get handshake() {
    if (this._handshake === undefined) {
      const json = this._engine.handshake(this.nsp.name, this.id);
      this._handshake = json == null ? undefined : JSON.parse(json);
    }
    return this._handshake;
  }

  /** The handshake's HTTP request, as far as the engine keeps it (see handshake-request.js). */
  get request() {
    if (this._request === undefined) this._request = handshakeRequest(this.handshake ?? {});
    return this._request;
  }

  get rooms() {
    const rooms = this.connected ? this._engine.rooms(this.nsp.name, this.id) : null;
    return new Set(rooms ?? this._lastRooms);
  }

  get conn() {
    const name = this._engine.transport(this.nsp.name, this.id) ?? 'websocket';
    return { transport: { name } };
  }

  get broadcast() {
    return new BroadcastOperator(this.nsp.adapter, NO_ROOMS, [this.id]);
  }

  /** @param {string | string[]} room */
  to(room) {
    return this.broadcast.to(room);
  }

  /** @param {string | string[]} room */
  in(room) {
    return this.to(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return this.broadcast.except(room);
  }

  /**
   * @param {string | symbol} event
   * @param {...any} args
   */
  emit(event, ...args) {
    if (isEmitterEvent(event)) return super.emit(event, ...args);
    refuseReserved(event);
    const [timeout, volatile, compress] = [this._timeout, this._volatile, this._compress];
    this._timeout = undefined;
    this._volatile = false;
    this._compress = true;
    for (const listener of [...this._anyOutgoing]) listener(event, ...args);
    if (typeof args[args.length - 1] === 'function') {
      const ack = args.pop();
      this._emitWithAck(event, args, timeout).then((outcome) => {
        if (outcome.gone) return;
        if (timeout === undefined) ack(...outcome.values);
        else if (outcome.ok) ack(null, ...outcome.values);
        else ack(new Error(TIMEOUT_MESSAGE));
      });
      return true;
    }
    const [json, attachments] = encodeArgs(args);
    const flags = volatile || !compress ? { volatile, compress } : undefined;
    this._engine.emitToSocket(this.nsp.name, this.id, event, json, attachments, flags);
    return true;
  }

  // One emit with ack: resolves `{ok, values}`; a socket that left resolves `{gone}` (socket.io
  // then never calls the ack).
  /**
   * @param {string} event
   * @param {unknown[]} args
   * @param {number | undefined} timeout
   * @returns {Promise<{ ok?: boolean, gone?: boolean, values: any[] }>}
   */
  async _emitWithAck(event, args, timeout) {
    const [json, attachments] = encodeArgs(args);
    const outcome = await this._engine.emitWithAck(this.nsp.name, this.id, event, json, attachments, timeout);
    if (outcome.args !== undefined && outcome.args !== null) return { ok: true, values: decodeArgs(outcome.args, outcome.attachments) };
    return outcome.error === 'timeout' ? { ok: false, values: [] } : { gone: true, values: [] };
  }

  /** The next `emit` is dropped rather than queued when the client is behind. */
  get volatile() {
    this._volatile = true;
    return this;
  }

  /**
   * `compress(false)`: the next `emit` goes out uncompressed even where permessage-deflate is on.
   * @param {boolean} flag
   */
  compress(flag) {
    this._compress = flag !== false;
    return this;
  }

  /** @param {AnyListener} fn */
  onAnyOutgoing(fn) {
    this._anyOutgoing.push(fn);
    this.nsp._outgoingWatchers.add(this);
    return this;
  }

  /** @param {AnyListener} fn */
  prependAnyOutgoing(fn) {
    this._anyOutgoing.unshift(fn);
    this.nsp._outgoingWatchers.add(this);
    return this;
  }

  /** @param {AnyListener} [fn] */
  offAnyOutgoing(fn) {
    this._anyOutgoing = fn ? this._anyOutgoing.filter((l) => l !== fn) : [];
    if (this._anyOutgoing.length === 0) this.nsp._outgoingWatchers.delete(this);
    return this;
  }

  /**
   * A broadcast this socket is addressed by: its outgoing listeners hear of it, as in socket.io.
   * @param {readonly string[]} rooms
   * @param {readonly string[]} except
   * @param {string} event
   * @param {unknown[]} args
   */
  _notifyOutgoing(rooms, except, event, args) {
    const mine = this.rooms;
    if (rooms.length > 0 && !rooms.some((room) => mine.has(room))) return;
    if (except.some((room) => mine.has(room))) return;
    for (const listener of [...this._anyOutgoing]) listener(event, ...args);
  }

  listenersAnyOutgoing() {
    return [...this._anyOutgoing];
  }

  /**
   * The next `emit` with an ack waits at most `ms`; its ack gets `(err, ...values)`.
   * @param {number} ms
   */
  timeout(ms) {
    this._timeout = ms;
    return this;
  }

  /**
   * Resolves with the client's first ack value (rejects on `timeout`).
   * @param {string} event
   * @param {...any} args
   */
  emitWithAck(event, ...args) {
    const withTimeout = this._timeout !== undefined;
    return new Promise((resolve, reject) => {
      this.emit(event, ...args, (/** @type {any[]} */ ...reply) => {
        if (!withTimeout) return resolve(reply[0]);
        return reply[0] ? reject(reply[0]) : resolve(reply[1]);
      });
    });
  }

  /** @param {...any} args */
  send(...args) {
    return this.emit('message', ...args);
  }

  /** @param {string | string[]} rooms */
  join(rooms) {
    this._engine.join(this.nsp.name, this.id, /** @type {unknown[]} */ ([]).concat(rooms).map(String));
  }

  /** @param {string} room */
  leave(room) {
    this._engine.leave(this.nsp.name, this.id, String(room));
  }

  disconnect(close = false) {
    this._engine.disconnect(this.nsp.name, this.id, !!close);
    return this;
  }

  /** @param {PacketMiddleware} fn */
  use(fn) {
    this._middlewares.push(fn);
    this._widen();
    return this;
  }

  /** @param {AnyListener} fn */
  onAny(fn) {
    this._anyListeners.push(fn);
    this._widen();
    return this;
  }

  /** @param {AnyListener} fn */
  prependAny(fn) {
    this._anyListeners.unshift(fn);
    this._widen();
    return this;
  }

  /** @param {AnyListener} [fn] */
  offAny(fn) {
    this._anyListeners = fn ? this._anyListeners.filter((l) => l !== fn) : [];
    return this;
  }

  listenersAny() {
    return [...this._anyListeners];
  }

  // A client event, in socket.io's order: `onAny` listeners, then the per-packet middlewares,
  // then (on the next tick) the event's own listeners, or `error` when a middleware refused it.
  /**
   * @param {string} name
   * @param {any[]} args
   * @param {number | null | undefined} ackId
   */
  _onevent(name, args, ackId) {
    if (ackId !== undefined && ackId !== null) {
      let answered = false;
      args.push((/** @type {unknown[]} */ ...values) => {
        if (answered) return;
        answered = true;
        this._engine.ack(ackId, ...encodeArgs(values));
      });
    }
    const packet = [name, ...args];
    for (const listener of [...this._anyListeners]) listener(name, ...args);
    /** @type {(i: number, done: (err: any) => void) => void} */
    const run = (i, done) => {
      if (i === this._middlewares.length) return done(null);
      try {
        this._middlewares[i](packet, (err) => (err ? done(err) : run(i + 1, done)));
      } catch (err) {
        done(err);
      }
    };
    run(0, (err) =>
      process.nextTick(() => {
        if (err) {
          if (this.listenerCount('error')) super.emit('error', err);
        } else if (this.connected) {
          super.emit(packet[0], ...packet.slice(1));
          this._syncData();
        }
      }),
    );
  }

  // `disconnecting` sees the rooms the socket was in; `disconnect` sees none (as socket.io).
  /**
   * @param {string} reason
   * @param {string[]} rooms
   */
  _onclose(reason, rooms) {
    this._lastRooms = [this.id, ...rooms];
    this.connected = false;
    super.emit('disconnecting', reason);
    this._lastRooms = [];
    super.emit('disconnect', reason);
  }
}

module.exports = { Socket };
