'use strict';
// @ts-check
// A namespace's adapter, socket.io's `nsp.adapter`: where its broadcasts and cluster-wide
// operations go. Here the engine is the adapter (rooms, encoding, delivery, Redis), so this
// class only hands each operation to it with the namespace's name.

const { fast } = require('./binding.js');
const { encodeArgs, decodeArgs } = require('./args.js');
const { nativeError } = require('./errors.js');

/** @typedef {import('../native.js').IoTarget} IoTarget */

class Adapter {
  /**
   * @param {import('./namespace.js').Namespace} nsp
   * @param {import('../native.js').NativeIo} engine
   */
  constructor(nsp, engine) {
    this.nsp = nsp;
    this._engine = engine;
    /** @type {number | undefined} */
    this._handle = undefined;
  }

  // The engine's handle for the fast room emit, taken on first use (a dynamic namespace exists
  // in the engine only once its first client connected).
  _fastHandle() {
    if (this._handle === undefined) this._handle = this._engine.namespaceHandle(this.nsp.name);
    return this._handle;
  }

  /**
   * Encodes once and delivers to everyone `target` addresses, on every server.
   * @param {IoTarget} target
   * @param {string} event
   * @param {unknown[]} args
   */
  broadcast(target, event, args) {
    const [json, attachments] = encodeArgs(args);
    this._engine.broadcast(this.nsp.name, target, event, json, attachments);
  }

  /**
   * A broadcast to one room's members, without flags: the fast call when nothing is binary.
   * @param {string} room
   * @param {string} event
   * @param {unknown[]} args
   */
  broadcastToRoom(room, event, args) {
    const [json, attachments] = encodeArgs(args);
    if (attachments) {
      this._engine.broadcast(this.nsp.name, { rooms: [room], except: [], volatile: false }, event, json, attachments);
    } else {
      fast.emitToNamespaceRoom(this._fastHandle(), room, event, json);
    }
  }

  /**
   * Every addressed socket gets the packet with its own ack id; resolves with each one's
   * first value, and whether every one answered within `timeoutMs`.
   * @param {IoTarget} target
   * @param {string} event
   * @param {unknown[]} args
   * @param {number} timeoutMs
   * @returns {Promise<{ values: unknown[], complete: boolean }>}
   */
  async broadcastWithAck(target, event, args, timeoutMs) {
    const [json, attachments] = encodeArgs(args);
    const collected = await this._engine.broadcastWithAck(this.nsp.name, target, event, json, attachments, timeoutMs);
    const values = collected.replies.map((r) => decodeArgs(r.args ?? '[]', r.attachments)[0]);
    return { values, complete: collected.complete };
  }

  /**
   * The sockets `target` addresses on every server, as the engine describes them.
   * @param {IoTarget} target
   */
  fetchSockets(target) {
    return this._engine.fetchSockets(this.nsp.name, target).catch((error) => {
      throw nativeError(error);
    });
  }

  /**
   * @param {IoTarget} target
   * @param {string[]} rooms
   */
  addSockets(target, rooms) {
    this._engine.socketsJoin(this.nsp.name, target, rooms);
  }

  /**
   * @param {IoTarget} target
   * @param {string[]} rooms
   */
  delSockets(target, rooms) {
    this._engine.socketsLeave(this.nsp.name, target, rooms);
  }

  /**
   * @param {IoTarget} target
   * @param {boolean} close
   */
  disconnectSockets(target, close) {
    this._engine.disconnectSockets(this.nsp.name, target, close);
  }

  /**
   * An event for the other servers' listeners of this namespace.
   * @param {string} event
   * @param {unknown[]} args
   */
  serverSideEmit(event, args) {
    this._engine.serverSideEmit(this.nsp.name, event, JSON.stringify(args));
  }

  /**
   * @param {string} event
   * @param {unknown[]} args
   * @returns {Promise<{ responses: unknown[], complete: boolean }>}
   */
  async serverSideEmitWithAck(event, args) {
    const { replies, complete } = await this._engine.serverSideEmitWithAck(this.nsp.name, event, JSON.stringify(args)).catch((error) => {
      throw nativeError(error);
    });
    return { responses: JSON.parse(replies), complete };
  }

  /** Every room of this namespace on every server. */
  async allRooms() {
    return new Set(await this._engine.allRooms(this.nsp.name).catch((e) => {
      throw nativeError(e);
    }));
  }

  /** How many servers this namespace spans. */
  serverCount() {
    return this._engine.serverCount(this.nsp.name);
  }
}

module.exports = { Adapter };
