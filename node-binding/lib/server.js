'use strict';
// @ts-check
// socket.io's `Server` over the engine (`NativeIo`): its namespaces, where it serves (its own
// port, or an app's `http.Server`), its adapter, and the main namespace's shortcuts. The engine
// owns connections, rooms, encoding and delivery; its notifications reach the namespaces here.

const { EventEmitter } = require('node:events');
const http = require('node:http');
const { binding } = require('./binding.js');
const { serverOptions } = require('./options.js');
const { redisAdapterSpec } = require('./redis-adapter.js');
const { setAllowRequest } = require('./allow-request.js');
const { attachToHttpServer } = require('./http-attach.js');
const { nativeError } = require('./errors.js');
const { Namespace } = require('./namespace.js');
const { ParentNamespace } = require('./parent-namespace.js');

/**
 * socket.io's own server for `new Server(port)`: everything outside the engine's path is a 404.
 * @param {number} port
 */
function listenOn(port) {
  const server = http.createServer((req, res) => {
    res.writeHead(404);
    res.end();
  });
  server.listen(port);
  return server;
}

/**
 * @param {string} host
 * @param {number} port
 */
const hostPort = (host, port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

class Server extends EventEmitter {
  /**
   * `new Server()`, `new Server(port, opts)`, `new Server(httpServer, opts)`, `new Server(opts)`.
   * @param {any} [srv]
   * @param {Record<string, any>} [opts]
   * @param {{ engine: import('../native.js').NativeIo }} [over] an engine another class runs
   *   (`WebSocketServer#io`): this object then leaves starting and closing it to that class
   */
  constructor(srv, opts, over) {
    super();
    if (srv && typeof srv === 'object' && typeof srv.listen !== 'function') [srv, opts] = [undefined, srv];
    this.opts = opts || {};
    this._engine = over ? over.engine : new binding.NativeIo(serverOptions(this.opts));
    this._ownsEngine = !over;
    if (this.opts.allowRequest !== undefined) setAllowRequest(this._engine, this.opts.allowRequest);
    /** @type {Map<string, Namespace>} */
    this._nsps = new Map();
    /** @type {ParentNamespace[]} */
    this._parents = [];
    this._engine.setEventHandler((event) => {
      const nsp = this._nsps.get(event.nsp);
      if (nsp) nsp._onEngineEvent(event);
    });
    // socket.io's `io.engine`: here the refused requests (`connection_error`).
    this.engine = new EventEmitter();
    this._engine.setConnectionErrorHandler((json) => {
      const { code, message, req } = JSON.parse(json);
      this.engine.emit('connection_error', { code, message, req, context: {} });
    });
    this.sockets = this._namespace('/');
    /** @type {import('./redis-adapter.js').RedisAdapterSpec | undefined} */
    this._adapter = undefined;
    if (this.opts.adapter !== undefined) this.adapter(this.opts.adapter);
    /** @type {import('node:http').Server | undefined} */
    this.httpServer = undefined;
    /** @type {number | undefined} */
    this.port = undefined;
    /** @type {Promise<import('../native.js').BoundAddress | undefined> | undefined} */
    this._listening = undefined;
    /** @type {(() => void) | undefined} */
    this._detach = undefined;
    if (srv !== undefined && srv !== null) this.attach(srv);
  }

  /**
   * The namespace `name`, created on first use; a RegExp or function: a parent namespace.
   * @param {string | RegExp | import('./parent-namespace.js').NamespaceMatcher} name
   * @param {(socket: import('./socket.js').Socket) => void} [fn] a `connect` listener
   */
  of(name, fn) {
    const namespace = name instanceof RegExp || typeof name === 'function' ? this._parent(name) : this._namespace(name);
    if (fn) namespace.on('connect', fn);
    return namespace;
  }

  /** @param {string} name */
  _namespace(name) {
    const nsp = name.startsWith('/') ? name : `/${name}`;
    let namespace = this._nsps.get(nsp);
    if (!namespace) {
      this._engine.of(nsp);
      namespace = new Namespace(this, this._engine, nsp);
      this._nsps.set(nsp, namespace);
      if (nsp !== '/') this.sockets._emitReserved('new_namespace', namespace);
    }
    return namespace;
  }

  /** @param {RegExp | import('./parent-namespace.js').NamespaceMatcher} matcher */
  _parent(matcher) {
    const parent = new ParentNamespace(this, this._engine, matcher);
    if (this._parents.length === 0) {
      this._engine.setDynamicNamespaces(
        (requestJson) => this._matchDynamic(JSON.parse(requestJson)),
        (requestJson) => {
          const request = JSON.parse(requestJson);
          const child = this._nsps.get(request.nsp);
          return child ? child.admit(request) : Promise.resolve(JSON.stringify({ message: 'Invalid namespace' }));
        },
      );
    }
    this._parents.push(parent);
    return parent;
  }

  // The first parent whose matcher accepts `nsp` gets the new child namespace.
  /** @param {{ nsp: string, auth: unknown }} request */
  async _matchDynamic({ nsp, auth }) {
    for (const parent of this._parents) {
      if (await parent.matches(nsp, auth)) {
        if (!this._nsps.has(nsp)) {
          const child = parent.createChild(nsp);
          this._nsps.set(nsp, child);
          this.sockets._emitReserved('new_namespace', child);
        }
        return true;
      }
    }
    return false;
  }

  /**
   * socket.io's `io.adapter(createAdapter(…))`: with `createRedisAdapter(url, opts)`, every
   * namespace joins the Redis cluster (Node nodes on `@socket.io/redis-adapter` included).
   * Without an argument, the adapter in use (undefined: this server alone).
   * @param {unknown} [adapter]
   * @returns {any}
   */
  adapter(adapter) {
    if (adapter === undefined) return this._adapter;
    const spec = redisAdapterSpec(adapter);
    try {
      this._engine.useRedis(spec.url, spec.key, spec.requestsTimeout, spec.sharded, spec.subscriptionMode);
    } catch (error) {
      throw nativeError(error);
    }
    this._adapter = spec;
    this._relayRequestsHere();
    return this;
  }

  /** @param {import('./namespace.js').ConnectMiddleware} fn */
  use(fn) {
    this.sockets.use(fn);
    return this;
  }

  // As in socket.io, listeners go to the main namespace (`connection`, server-side events);
  // `error` stays on the server (a failed `listen`).
  /**
   * @param {string | symbol} event
   * @param {(...args: any[]) => void} listener
   */
  on(event, listener) {
    if (event === 'error') return super.on(event, listener);
    this.sockets.on(event, listener);
    return this;
  }

  /**
   * @param {string | symbol} event
   * @param {(...args: any[]) => void} listener
   */
  once(event, listener) {
    if (event === 'error') return super.once(event, listener);
    this.sockets.once(event, listener);
    return this;
  }

  /**
   * @param {string | symbol} event
   * @param {(...args: any[]) => void} listener
   */
  off(event, listener) {
    if (event === 'error') return super.off(event, listener);
    this.sockets.off(event, listener);
    return this;
  }

  /** @param {string} event @param {...any} args */
  serverSideEmit(event, ...args) {
    return this.sockets.serverSideEmit(event, ...args);
  }

  /** @param {string} event @param {...any} args */
  serverSideEmitWithAck(event, ...args) {
    return this.sockets.serverSideEmitWithAck(event, ...args);
  }

  /** @param {string | string[]} room */
  to(room) {
    return this.sockets.to(room);
  }

  /** @param {string | string[]} room */
  in(room) {
    return this.sockets.in(room);
  }

  /** @param {string | string[]} room */
  except(room) {
    return this.sockets.except(room);
  }

  get volatile() {
    return this.sockets.volatile;
  }

  get local() {
    return this.sockets.local;
  }

  /** @param {boolean} flag */
  compress(flag) {
    return this.sockets.compress(flag);
  }

  /** @param {number} ms */
  timeout(ms) {
    return this.sockets.timeout(ms);
  }

  /** @param {string | symbol} event @param {...any} args */
  emit(event, ...args) {
    return this.sockets.emit(event, ...args);
  }

  /** @param {string} event @param {...any} args */
  emitWithAck(event, ...args) {
    return this.sockets.emitWithAck(event, ...args);
  }

  /** @param {...any} args */
  send(...args) {
    return this.sockets.send(...args);
  }

  /** @param {...any} args */
  write(...args) {
    return this.sockets.send(...args);
  }

  allSockets() {
    return this.sockets.allSockets();
  }

  fetchSockets() {
    return this.sockets.fetchSockets();
  }

  /** @param {string | string[]} room */
  socketsJoin(room) {
    return this.sockets.socketsJoin(room);
  }

  /** @param {string | string[]} room */
  socketsLeave(room) {
    return this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return this.sockets.disconnectSockets(close);
  }

  /**
   * socket.io's `listen`: the same as `attach`.
   * @param {number | string | import('node:http').Server} [srv]
   * @param {Record<string, any>} [options]
   */
  listen(srv, options) {
    return this.attach(srv, options);
  }

  /**
   * Serves on an existing `http.Server` (sharing its port), or on a port (`new Server(port)`,
   * `listen(port)`): then on an `http.Server` of its own that answers 404 to everything else,
   * as socket.io does, so `io.httpServer` takes routes and `close()` frees the port.
   * @param {number | string | import('node:http').Server} [srv]
   * @param {Record<string, any>} [options]
   */
  attach(srv, options) {
    if (typeof srv === 'function') {
      throw new Error('You are trying to attach socket.io to an express request handler function. Please pass a http.Server instance.');
    }
    if (options && Object.keys(options).length > 0) throw new TypeError('roomcast Server: pass options to the constructor');
    const httpServer = typeof srv === 'object' && srv ? srv : listenOn(Number(srv ?? 0));
    this.httpServer = httpServer;
    this._detach = attachToHttpServer(this._engine, httpServer, this._engine.path(),
      (error) => EventEmitter.prototype.emit.call(this, 'error', error));
    this._listening = new Promise((resolve, reject) => {
      const bound = () => {
        const address = httpServer.address();
        if (address && typeof address === 'object') this.port = address.port;
        resolve(address && typeof address === 'object' ? { host: address.address, port: address.port } : undefined);
      };
      if (httpServer.listening) bound();
      else {
        httpServer.once('listening', bound);
        httpServer.once('error', reject);
      }
    });
    this._listening.catch((error) => EventEmitter.prototype.emit.call(this, 'error', error));
    this._relayRequestsHere();
    return this;
  }

  /** Resolves with `{host, port}` once the HTTP server listens. */
  get listening() {
    return this._listening ?? Promise.resolve(undefined);
  }

  // Clustered: the other servers relay requests for this server's sessions to where it
  // listens (or to the adapter's `relayAddress`), so a load balancer needs no sticky sessions.
  _relayRequestsHere() {
    const spec = this._adapter;
    if (!spec) return;
    /** @param {string} address */
    const announce = (address) => {
      try {
        this._engine.relayRequestsAt(address);
      } catch (error) {
        EventEmitter.prototype.emit.call(this, 'error', nativeError(error));
      }
    };
    const httpServer = this.httpServer;
    if (spec.relayAddress) {
      announce(spec.relayAddress);
    } else if (httpServer) {
      const fromServer = () => {
        const bound = httpServer.address();
        if (bound && typeof bound === 'object') announce(hostPort(bound.address, bound.port));
      };
      if (httpServer.listening) fromServer();
      else httpServer.once('listening', fromServer);
    }
  }

  /**
   * Disconnects every socket, stops the engine, then closes the HTTP server (socket.io closes an
   * app's server too); `callback` gets that close's error (`ERR_SERVER_NOT_RUNNING`), the
   * promise only the engine's.
   * @param {(err?: Error) => void} [callback]
   */
  async close(callback) {
    if (this._detach) this._detach();
    this._detach = undefined;
    // The port is released first (as socket.io's close does before its clients see the close),
    // the answer waits for the engine and then for the HTTP server's connections.
    const httpServer = this.httpServer;
    /** @type {Promise<Error | undefined>} */
    const httpClosed = httpServer ? new Promise((resolve) => httpServer.close(resolve)) : Promise.resolve(undefined);
    try {
      if (this._ownsEngine) await this._engine.close();
    } catch (error) {
      if (callback) return callback(nativeError(error));
      throw nativeError(error);
    }
    const closed = await httpClosed;
    if (callback) callback(closed);
  }


}

module.exports = { Server };
