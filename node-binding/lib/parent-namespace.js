'use strict';
// @ts-check
// `io.of(RegExp | fn)`: a parent of namespaces created when a client asks for a matching name.
// Its children share its middlewares and report their connections to it.

const { EventEmitter } = require('node:events');
const { Namespace } = require('./namespace.js');
const { refuseReserved } = require('./errors.js');

/** @typedef {(name: string, auth: unknown, next: (err: Error | null, ok: boolean) => void) => void} NamespaceMatcher */

class ParentNamespace extends EventEmitter {
  /**
   * @param {import('./server.js').Server} server
   * @param {import('../native.js').NativeIo} engine
   * @param {RegExp | NamespaceMatcher} matcher
   */
  constructor(server, engine, matcher) {
    super();
    this.server = server;
    /** @type {Set<Namespace>} */
    this.children = new Set();
    this._engine = engine;
    this._matcher = matcher;
    /** @type {import('./namespace.js').ConnectMiddleware[]} */
    this._middlewares = [];
  }

  /** @param {import('./namespace.js').ConnectMiddleware} fn */
  use(fn) {
    this._middlewares.push(fn);
    return this;
  }

  /**
   * Whether a client's namespace `name` (with its auth) belongs here.
   * @param {string} name
   * @param {unknown} auth
   * @returns {Promise<boolean>}
   */
  matches(name, auth) {
    const matcher = this._matcher;
    if (matcher instanceof RegExp) return Promise.resolve(matcher.test(name));
    return new Promise((resolve) => {
      try {
        matcher(name, auth, (err, ok) => resolve(!err && !!ok));
      } catch {
        resolve(false);
      }
    });
  }

  /**
   * The child namespace `name`, sharing this parent's middlewares.
   * @param {string} name
   */
  createChild(name) {
    const child = new Namespace(this.server, this._engine, name, this._middlewares);
    for (const event of ['connection', 'connect']) child.on(event, (socket) => super.emit(event, socket));
    this.children.add(child);
    return child;
  }

  /**
   * @param {string | symbol} event
   * @param {...any} args
   */
  emit(event, ...args) {
    if (typeof event !== 'string') return super.emit(event, ...args);
    return this._all().emit(/** @type {string} */ (event), ...args);
  }

  /** Every child's operator at once (socket.io's parent broadcast). */
  _all() {
    return new ChildrenOperator([...this.children].map((child) => child._operator()));
  }

  /** @param {string | string[]} room */
  to(room) {
    return this._all().to(room);
  }

  /** @param {string | string[]} room */
  in(room) {
    return this._all().to(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return this._all().except(room);
  }

  get volatile() {
    return this._all().volatile;
  }

  get local() {
    return this._all().local;
  }

  /** @param {boolean} flag */
  compress(flag) {
    return this._all().compress(flag);
  }

  fetchSockets() {
    return this._all().fetchSockets();
  }

  /** @param {string | string[]} room */
  socketsJoin(room) {
    return this._all().socketsJoin(room);
  }

  /** @param {string | string[]} room */
  socketsLeave(room) {
    return this._all().socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return this._all().disconnectSockets(close);
  }
}

/** A broadcast operator over several namespaces: each step and each emit applies to all. */
class ChildrenOperator {
  /** @param {import('./broadcast-operator.js').BroadcastOperator[]} operators */
  constructor(operators) {
    this._operators = operators;
  }

  /** @param {(op: import('./broadcast-operator.js').BroadcastOperator) => import('./broadcast-operator.js').BroadcastOperator} step */
  _map(step) {
    return new ChildrenOperator(this._operators.map(step));
  }

  /** @param {string | string[]} room */
  to(room) {
    return this._map((op) => op.to(room));
  }

  /** @param {string | string[]} room */
  in(room) {
    return this.to(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return this._map((op) => op.except(room));
  }

  get volatile() {
    return this._map((op) => op.volatile);
  }

  get local() {
    return this._map((op) => op.local);
  }

  /** @param {boolean} flag */
  compress(flag) {
    return this._map((op) => op.compress(flag));
  }

  /**
   * @param {string} event
   * @param {...any} args
   */
  emit(event, ...args) {
    refuseReserved(event);
    for (const op of this._operators) op.emit(event, ...args);
    return true;
  }

  async fetchSockets() {
    return (await Promise.all(this._operators.map((op) => op.fetchSockets()))).flat();
  }

  /** @param {string | string[]} room */
  socketsJoin(room) {
    for (const op of this._operators) op.socketsJoin(room);
  }

  /** @param {string | string[]} room */
  socketsLeave(room) {
    for (const op of this._operators) op.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    for (const op of this._operators) op.disconnectSockets(close);
  }
}

module.exports = { ParentNamespace };
