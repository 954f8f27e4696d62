'use strict';
// @ts-check
// `io.to(room)`, `socket.broadcast`, …: rooms, excepts and flags, then an emit or a
// cluster-wide operation on the namespace's adapter. `RemoteSocket` is a socket `fetchSockets`
// found on another server, driven through a one-socket operator.

const { TIMEOUT_MESSAGE, refuseReserved } = require('./errors.js');

// Shared empty defaults (never mutated: every operator step copies). Rooms are arrays without
// duplicates: an operator is made for one emit, and a one-room array costs far less than a Set
// (the engine dedups recipients anyway).
/** @type {readonly string[]} */
const NO_ROOMS = Object.freeze([]);
/** @type {Readonly<BroadcastFlags>} */
const NO_FLAGS = Object.freeze({});

/**
 * @typedef {object} BroadcastFlags
 * @property {boolean} [volatile]
 * @property {boolean} [local]
 * @property {boolean} [compress]
 * @property {number} [timeout]
 * @property {boolean} [expectSingleResponse]
 */

/**
 * `rooms` plus `room` (a name or a list of names), without duplicates.
 * @param {readonly string[]} rooms
 * @param {string | string[]} room
 * @returns {readonly string[]}
 */
function withRooms(rooms, room) {
  if (typeof room === 'string' && rooms.length === 0) return [room];
  const out = [...rooms];
  for (const r of /** @type {unknown[]} */ ([]).concat(room)) {
    const name = String(r);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

class BroadcastOperator {
  /**
   * @param {import('./adapter.js').Adapter} adapter
   * @param {readonly string[]} [rooms]
   * @param {readonly string[]} [except]
   * @param {Readonly<BroadcastFlags>} [flags]
   */
  constructor(adapter, rooms = NO_ROOMS, except = NO_ROOMS, flags = NO_FLAGS) {
    this._adapter = adapter;
    this._rooms = rooms;
    this._except = except;
    this._flags = flags;
  }

  /** @param {string | string[]} room */
  to(room) {
    return new BroadcastOperator(this._adapter, withRooms(this._rooms, room), this._except, this._flags);
  }

  /** @param {string | string[]} room */
  in(room) {
    return this.to(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return new BroadcastOperator(this._adapter, this._rooms, withRooms(this._except, room), this._flags);
  }

  /** @param {BroadcastFlags} flags */
  _with(flags) {
    return new BroadcastOperator(this._adapter, this._rooms, this._except, { ...this._flags, ...flags });
  }

  /** Dropped for clients that are behind rather than queued. */
  get volatile() {
    return this._with({ volatile: true });
  }

  /** This server only: not sent to the other nodes of the cluster. */
  get local() {
    return this._with({ local: true });
  }

  /**
   * `compress(false)`: sent uncompressed even where permessage-deflate is on.
   * @param {boolean} flag
   */
  compress(flag) {
    return this._with({ compress: flag !== false });
  }

  /**
   * Acks from many: `emit(…, (err, responses))` or `emitWithAck` wait at most `ms`.
   * @param {number} ms
   */
  timeout(ms) {
    return this._with({ timeout: ms });
  }

  /** @returns {import('../native.js').IoTarget} */
  _target() {
    const flags = this._flags;
    return {
      rooms: /** @type {string[]} */ (this._rooms), except: /** @type {string[]} */ (this._except), volatile: !!flags.volatile, local: !!flags.local,
      compress: flags.compress !== false,
    };
  }

  /**
   * @param {string} event
   * @param {...any} args
   */
  emit(event, ...args) {
    refuseReserved(event);
    if (typeof args[args.length - 1] === 'function') {
      const callback = args.pop();
      this._gatherAcks(event, args).then(({ err, responses }) => callback(err, responses));
      return true;
    }
    const watchers = this._adapter.nsp._outgoingWatchers;
    if (watchers.size > 0) for (const socket of watchers) socket._notifyOutgoing(this._rooms, this._except, String(event), args);
    const flags = this._flags;
    // The common case, one room and nothing else, skips building a target object.
    if (this._rooms.length === 1 && this._except.length === 0 && !flags.volatile && !flags.local && flags.compress !== false) {
      this._adapter.broadcastToRoom(this._rooms[0], String(event), args);
    } else {
      this._adapter.broadcast(this._target(), String(event), args);
    }
    return true;
  }

  /**
   * Resolves with every addressed socket's first ack value; rejects when one timed out.
   * @param {string} event
   * @param {...any} args
   */
  async emitWithAck(event, ...args) {
    refuseReserved(event);
    const { err, responses } = await this._gatherAcks(event, args);
    if (err) throw err;
    return responses;
  }

  // Without `timeout(ms)` socket.io times out at once, and so does this.
  /**
   * @param {string} event
   * @param {unknown[]} args
   * @returns {Promise<{ err: Error | null, responses: any }>}
   */
  async _gatherAcks(event, args) {
    const { values, complete } = await this._adapter.broadcastWithAck(this._target(), String(event), args, this._flags.timeout ?? 0);
    const err = complete ? null : new Error(TIMEOUT_MESSAGE);
    if (this._flags.expectSingleResponse) return { err, responses: err ? null : values[0] };
    return { err, responses: values };
  }

  /** The addressed sockets of every server: this server's as `Socket`, others' as `RemoteSocket`. */
  async fetchSockets() {
    const found = await this._adapter.fetchSockets(this._target());
    const local = this._adapter.nsp.sockets;
    return found.map((info) => (info.local && local.get(info.id)) || new RemoteSocket(this._adapter, info));
  }

  /**
   * The ids of the addressed sockets (socket.io's deprecated `allSockets`).
   * @returns {Promise<Set<string>>}
   */
  async allSockets() {
    const found = await this._adapter.fetchSockets(this._target());
    return new Set(found.map((info) => info.id));
  }

  /** @param {string | string[]} room */
  socketsJoin(room) {
    this._adapter.addSockets(this._target(), /** @type {unknown[]} */ ([]).concat(room).map(String));
  }

  /** @param {string | string[]} room */
  socketsLeave(room) {
    this._adapter.delSockets(this._target(), /** @type {unknown[]} */ ([]).concat(room).map(String));
  }

  disconnectSockets(close = false) {
    this._adapter.disconnectSockets(this._target(), !!close);
  }
}

/** A socket `fetchSockets` found on another server (or one this layer does not track). */
class RemoteSocket {
  /**
   * @param {import('./adapter.js').Adapter} adapter
   * @param {import('../native.js').FetchedSocketInfo} info
   */
  constructor(adapter, info) {
    this.id = info.id;
    this.handshake = JSON.parse(info.handshake);
    this.rooms = new Set(info.rooms);
    this.data = JSON.parse(info.data);
    this._operator = new BroadcastOperator(adapter, [this.id], NO_ROOMS, { expectSingleResponse: true });
  }

  /** @param {number} ms */
  timeout(ms) {
    return this._operator.timeout(ms);
  }

  /**
   * @param {string} event
   * @param {...any} args
   */
  emit(event, ...args) {
    return this._operator.emit(event, ...args);
  }

  /** @param {string | string[]} room */
  join(room) {
    return this._operator.socketsJoin(room);
  }

  /** @param {string | string[]} room */
  leave(room) {
    return this._operator.socketsLeave(room);
  }

  disconnect(close = false) {
    this._operator.disconnectSockets(close);
    return this;
  }
}

module.exports = { BroadcastOperator, RemoteSocket, withRooms, NO_ROOMS };
