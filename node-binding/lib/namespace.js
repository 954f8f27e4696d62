'use strict';
// @ts-check
// socket.io's `Namespace`: its sockets, connect middlewares, `connection` event, and the
// broadcast operator's shortcuts. The engine admits sockets and tells this object; broadcasts
// go through the namespace's adapter.

const { EventEmitter } = require('node:events');
const { Adapter } = require('./adapter.js');
const { BroadcastOperator, withRooms, NO_ROOMS } = require('./broadcast-operator.js');
const { Socket } = require('./socket.js');
const { decodeArgs } = require('./args.js');

// Names a namespace's own events use; `serverSideEmit` refuses them, as socket.io does.
const RESERVED_NSP_EVENTS = new Set(['connect', 'connection', 'new_namespace']);

// Admitted sockets whose `connection` did not come within this long are dropped, checked once
// this many wait.
const ADMITTED_WAIT_MS = 60_000;
const ADMITTED_SWEEP_AT = 1024;

/** @typedef {(socket: any, next: (err?: Error & { data?: unknown }) => void) => void} ConnectMiddleware */

class Namespace extends EventEmitter {
  /**
   * @param {import('./server.js').Server} server
   * @param {import('../native.js').NativeIo} engine
   * @param {string} name
   * @param {ConnectMiddleware[]} [middlewares] shared with a parent namespace (`of(RegExp)`)
   */
  constructor(server, engine, name, middlewares = []) {
    super();
    this.server = server;
    this.name = name;
    /** @type {Map<string, Socket>} */
    this.sockets = new Map();
    this._engine = engine;
    this._middlewares = middlewares;
    this._adapter = new Adapter(this, engine);
    /** @type {Set<Socket>} sockets with `onAnyOutgoing` listeners (broadcasts tell them) */
    this._outgoingWatchers = new Set();
    /** @type {Map<string, { socket: Socket, at: number }>} admitted sockets not connected yet */
    this._admitted = new Map();
  }

  /** socket.io's `nsp.adapter`, for the cluster-wide questions apps ask it. */
  get adapter() {
    return this._adapter;
  }

  /** @param {ConnectMiddleware} fn */
  use(fn) {
    if (this._middlewares.length === 0) this.listenForConnects();
    this._middlewares.push(fn);
    return this;
  }

  // The engine asks this namespace's middlewares about every socket-to-be from now on.
  listenForConnects() {
    this._engine.setMiddleware(this.name, (requestJson) => this.admit(JSON.parse(requestJson)));
  }

  /**
   * The middlewares in order on a socket-to-be (a `Socket` not connected yet, with the id it
   * will have): `{accept, data}` admits it with `socket.data`, `{message, data}` refuses it (the
   * client's `connect_error`). An admitted one becomes the socket of `connection`, with whatever
   * the middlewares set on it.
   * @param {{ id: string, headers: unknown, query: unknown, auth: unknown, address: string }} request
   * @returns {Promise<string>}
   */
  admit(request) {
    const handshake = { headers: request.headers, query: request.query, auth: request.auth, address: request.address };
    const socket = new Socket(this, this._engine, request.id, handshake);
    /** @param {any} err */
    const refusal = (err) => JSON.stringify({ message: String(err.message ?? err), data: err.data ?? null });
    return new Promise((resolve) => {
      /** @param {number} i */
      const run = (i) => {
        if (i === this._middlewares.length) {
          this._keepAdmitted(socket);
          return resolve(JSON.stringify({ accept: true, data: socket.data }));
        }
        try {
          this._middlewares[i](socket, (err) => (err ? resolve(refusal(err)) : run(i + 1)));
        } catch (err) {
          resolve(refusal(err));
        }
      };
      run(0);
    });
  }

  // An admitted socket waits here for its `connection`; one whose client left before it came is
  // swept once many are waiting.
  /** @param {Socket} socket */
  _keepAdmitted(socket) {
    if (this._admitted.size >= ADMITTED_SWEEP_AT) {
      const stale = Date.now() - ADMITTED_WAIT_MS;
      for (const [id, entry] of this._admitted) if (entry.at < stale) this._admitted.delete(id);
    }
    this._admitted.set(socket.id, { socket, at: Date.now() });
  }

  /**
   * An engine notification about one of this namespace's sockets.
   * @param {import('../native.js').IoEvent} event
   */
  _onEngineEvent(event) {
    if (event.kind === 'serverSideEmit') return this._onServerSideEmit(String(event.name), JSON.parse(String(event.args)), event.ackId);
    if (event.kind === 'connection') return this._onconnection(event);
    const socket = this.sockets.get(event.socketId);
    if (!socket) return;
    if (event.kind === 'disconnect') {
      this.sockets.delete(socket.id);
      this._outgoingWatchers.delete(socket);
      socket._onclose(String(event.name), event.rooms || []);
      return;
    }
    socket._onevent(String(event.name), decodeArgs(String(event.args), event.attachments), event.ackId);
  }

  /** @param {import('../native.js').IoEvent} event */
  _onconnection(event) {
    const admitted = this._admitted.get(event.socketId);
    if (admitted) this._admitted.delete(event.socketId);
    const socket = admitted ? admitted.socket : new Socket(this, this._engine, event.socketId);
    socket._attach(!!event.recovered, event.data);
    this.sockets.set(socket.id, socket);
    this._emitReserved('connection', socket);
    this._emitReserved('connect', socket);
    socket._syncData();
    socket._narrow();
  }

  /** An operator for the whole namespace. */
  _operator() {
    return new BroadcastOperator(this._adapter);
  }

  /** @param {string | string[]} room */
  to(room) {
    return new BroadcastOperator(this._adapter, withRooms(NO_ROOMS, room));
  }

  /** @param {string | string[]} room */
  in(room) {
    return this.to(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return new BroadcastOperator(this._adapter, NO_ROOMS, withRooms(NO_ROOMS, room));
  }

  get volatile() {
    return new BroadcastOperator(this._adapter).volatile;
  }

  get local() {
    return new BroadcastOperator(this._adapter).local;
  }

  /** @param {boolean} flag */
  compress(flag) {
    return new BroadcastOperator(this._adapter).compress(flag);
  }

  /** @param {number} ms */
  timeout(ms) {
    return new BroadcastOperator(this._adapter).timeout(ms);
  }

  /**
   * @param {string | symbol} event
   * @param {...any} args
   */
  emit(event, ...args) {
    if (typeof event !== 'string') return super.emit(event, ...args);
    return new BroadcastOperator(this._adapter).emit(event, ...args);
  }

  /**
   * An event of the namespace itself (`connection`, `new_namespace`) to its listeners.
   * @param {string} event
   * @param {...any} args
   */
  _emitReserved(event, ...args) {
    return super.emit(event, ...args);
  }

  /**
   * @param {string} event
   * @param {...any} args
   */
  emitWithAck(event, ...args) {
    return new BroadcastOperator(this._adapter).emitWithAck(event, ...args);
  }

  /** @param {...any} args */
  send(...args) {
    return this.emit('message', ...args);
  }

  /** @param {...any} args */
  write(...args) {
    return this.emit('message', ...args);
  }

  fetchSockets() {
    return new BroadcastOperator(this._adapter).fetchSockets();
  }

  /** socket.io's deprecated `allSockets`: the ids of the namespace's sockets. */
  allSockets() {
    return new BroadcastOperator(this._adapter).allSockets();
  }

  /**
   * An event for the other servers' `io.on(event)` listeners (a last function gets their acks).
   * @param {string} event
   * @param {...any} args
   */
  serverSideEmit(event, ...args) {
    if (RESERVED_NSP_EVENTS.has(event)) throw new Error(`"${String(event)}" is a reserved event name`);
    if (typeof args[args.length - 1] !== 'function') {
      this._adapter.serverSideEmit(String(event), args);
      return true;
    }
    const ack = args.pop();
    this._adapter.serverSideEmitWithAck(String(event), args).then(
      ({ responses, complete }) => ack(complete ? null : new Error(`timeout reached: only ${responses.length} responses received`), responses),
      (error) => ack(error, []),
    );
    return true;
  }

  /**
   * @param {string} event
   * @param {...any} args
   * @returns {Promise<unknown[]>}
   */
  serverSideEmitWithAck(event, ...args) {
    return new Promise((resolve, reject) => {
      this.serverSideEmit(event, ...args, (/** @type {any} */ err, /** @type {unknown[]} */ responses) => {
        if (err) {
          err.responses = responses;
          return reject(err);
        }
        return resolve(responses);
      });
    });
  }

  // An event another server sent: this namespace's own listeners get it (with an ack when asked).
  /**
   * @param {string} name
   * @param {any[]} args
   * @param {number | null | undefined} ackId
   */
  _onServerSideEmit(name, args, ackId) {
    if (ackId !== undefined && ackId !== null) {
      let answered = false;
      args.push((/** @type {unknown} */ value) => {
        if (answered) return;
        answered = true;
        this._engine.ack(ackId, JSON.stringify([value ?? null]));
      });
    }
    EventEmitter.prototype.emit.call(this, name, ...args);
  }

  /** @param {string | string[]} room */
  socketsJoin(room) {
    return new BroadcastOperator(this._adapter).socketsJoin(room);
  }

  /** @param {string | string[]} room */
  socketsLeave(room) {
    return new BroadcastOperator(this._adapter).socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return new BroadcastOperator(this._adapter).disconnectSockets(close);
  }
}

module.exports = { Namespace };
