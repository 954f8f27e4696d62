'use strict';
// `io.of(RegExp | fn)`: a parent of namespaces created when a client asks for a matching name.
// Its children share its middlewares and report their connections to it.

const { EventEmitter } = require('node:events');
const { Namespace } = require('./namespace.js');
const { refuseReserved, isEmitterEvent } = require('./errors.js');

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
    if (isEmitterEvent(event)) return super.emit(event, ...args);
    refuseReserved(event);
    for (const child of this.children) child.emit(event, ...args);
    return true;
  }
}

module.exports = { ParentNamespace };
