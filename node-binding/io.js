'use strict';
// socket.io's server API (`Server`, `Namespace`, `Socket`, broadcast operators) over the
// engine (`NativeIo`). The engine owns connections, rooms, encoding and delivery; this layer
// keeps socket.io's JavaScript objects and listeners and turns engine notifications into their
// events. Client events cross into JavaScript as JSON text once per event.

const { EventEmitter } = require('node:events');
const binding = require('./binding.js');
const { NativeIo } = binding;

// `io.to(room).emit` as a plain Node-API callback (see node-binding/src/fast_emit.rs).
const fast = {};
binding.installFastEmits(fast);

// Shared empty defaults of broadcast operators (never mutated: every operator step copies).
// Rooms are arrays without duplicates: an operator is made for one emit, and a one-room array
// costs far less than a Set (the engine dedups recipients anyway).
const NO_ROOMS = Object.freeze([]);
const NO_FLAGS = Object.freeze({});

/** `rooms` plus `room` (a name or a list of names), without duplicates. */
function withRooms(rooms, room) {
  if (typeof room === 'string' && rooms.length === 0) return [room];
  const out = [...rooms];
  for (const r of [].concat(room)) {
    const name = String(r);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
const { attachToHttpServer, nativeError, setAllowRequest, withAttachments } = require('./shared.js');

// Options by socket.io's names. Those the engine does not offer yet are refused by name rather
// than ignored (see README: Moving from socket.io).
const SUPPORTED = new Set(['path', 'pingInterval', 'pingTimeout', 'maxHttpBufferSize', 'cors', 'allowUpgrades',
  'transports', 'connectTimeout', 'connectionStateRecovery', 'serveClient', 'allowRequest', 'adapter', 'perMessageDeflate', 'httpCompression',
  'writeCoalesce']);

// Names a namespace's own events use; `serverSideEmit` refuses them, as socket.io does.
const RESERVED_NSP_EVENTS = new Set(['connect', 'connection', 'new_namespace']);

const REDIS_ADAPTER = Symbol('roomcast.redisAdapter');

/**
 * socket.io's `io.adapter(createAdapter(…))` for roomcast: the engine keeps its own Redis
 * connections, so it takes the URL (`key` and `requestsTimeout` as the Node adapter's options).
 */
function createRedisAdapter(url, opts = {}) {
  if (typeof url !== 'string') throw new TypeError('createRedisAdapter: the Redis URL must be a string');
  return { [REDIS_ADAPTER]: true, url, key: opts.key, requestsTimeout: opts.requestsTimeout, relayAddress: opts.relayAddress };
}

/**
 * socket.io's `createShardedAdapter(pubClient, subClient, opts)` for roomcast: sharded pub/sub
 * (Redis 7 `SPUBLISH`/`SSUBSCRIBE`) on the Redis Cluster whose nodes `urls` lists (a URL or
 * an array of them; the other nodes are discovered). `channelPrefix` and `subscriptionMode`
 * (`static`, `dynamic`, `dynamic-private`) as the Node adapter's options.
 */
function createShardedAdapter(urls, opts = {}) {
  const list = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0 || list.some((u) => typeof u !== 'string')) {
    throw new TypeError('createShardedAdapter: the Redis Cluster URLs must be strings');
  }
  return {
    [REDIS_ADAPTER]: true,
    url: list.join(','),
    key: opts.channelPrefix,
    requestsTimeout: opts.requestsTimeout,
    sharded: true,
    subscriptionMode: opts.subscriptionMode,
    relayAddress: opts.relayAddress,
  };
}

// Event names a socket emits itself; a client cannot trigger them.
const SOCKET_EVENTS = new Set(['disconnect', 'disconnecting', 'error', 'newListener', 'removeListener']);

function toNativeOptions(options) {
  for (const key of Object.keys(options)) {
    if (!SUPPORTED.has(key)) throw new TypeError(`roomcast Server: option "${key}" is not supported`);
  }
  if (options.adapter !== undefined && !options.adapter[REDIS_ADAPTER]) {
    throw new TypeError('roomcast Server: adapter must come from createRedisAdapter(url, opts) or createShardedAdapter(urls, opts)');
  }
  if (options.serveClient) throw new TypeError('roomcast Server: serveClient is not supported (serve the client bundle yourself)');
  const out = {};
  for (const key of ['path', 'pingInterval', 'pingTimeout', 'maxHttpBufferSize', 'allowUpgrades', 'transports', 'connectTimeout', 'writeCoalesce']) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  const origin = options.cors && options.cors.origin;
  if (origin !== undefined && origin !== '*' && origin !== true) out.corsOrigins = Array.isArray(origin) ? origin : [origin];
  for (const key of ['perMessageDeflate', 'httpCompression']) {
    const value = options[key];
    if (value) out[key] = value === true ? {} : { threshold: value.threshold };
  }
  const recovery = options.connectionStateRecovery;
  if (recovery) {
    out.recoveryMaxDisconnection = recovery.maxDisconnectionDuration ?? 120000;
    if (recovery.skipMiddlewares !== undefined) out.recoverySkipMiddlewares = recovery.skipMiddlewares;
  }
  return out;
}

// Buffers, typed arrays and ArrayBuffers become `{_placeholder: true, num}` markers and travel as
// binary attachments (a binary packet), as socket.io sends them.
function extractBinary(value, attachments) {
  if (Buffer.isBuffer(value)) {
    attachments.push(value);
    return { _placeholder: true, num: attachments.length - 1 };
  }
  if (value instanceof ArrayBuffer) return extractBinary(Buffer.from(value), attachments);
  if (ArrayBuffer.isView(value)) return extractBinary(Buffer.from(value.buffer, value.byteOffset, value.byteLength), attachments);
  if (Array.isArray(value)) return value.map((v) => extractBinary(v, attachments));
  if (value !== null && typeof value === 'object' && typeof value.toJSON !== 'function') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = extractBinary(v, attachments);
    return out;
  }
  return value;
}

// Whether any argument holds binary (walked without copying, as socket.io's hasBinary; a Buffer
// is a typed array). Plain loops: this runs on every emit.
function hasBinary(value, depth) {
  if (typeof value !== 'object' || value === null) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasBinary(value[i], depth + 1)) return true;
    return false;
  }
  if (typeof value.toJSON === 'function') return false;
  for (const key in value) if (hasBinary(value[key], depth + 1)) return true;
  return false;
}

/** The arguments as `[jsonArrayText, attachments | undefined]` for the native calls. */
function encodeArgs(args) {
  if (!hasBinary(args, 0)) {
    const json = JSON.stringify(args);
    if (json === undefined) throw new TypeError('arguments are not JSON-serializable');
    return [json, undefined];
  }
  const attachments = [];
  const json = JSON.stringify(extractBinary(args, attachments));
  if (json === undefined) throw new TypeError('arguments are not JSON-serializable');
  return [json, attachments.length ? attachments : undefined];
}

const TIMEOUT_MESSAGE = 'operation has timed out';

// One emit with ack to one socket: resolves `{ok, values}`; a socket that left resolves
// `{gone}` (socket.io then never calls the ack).
async function emitWithAckTo(socket, event, args, timeout) {
  const native = socket.server._native;
  const [json, attachments] = encodeArgs(args);
  const outcome = await native.emitWithAck(socket.nsp.name, socket.id, String(event), json, attachments, timeout);
  if (outcome.args !== undefined && outcome.args !== null) {
    return { ok: true, values: JSON.parse(outcome.args).map((v) => withAttachments(v, outcome.attachments)) };
  }
  return outcome.error === 'timeout' ? { ok: false } : { gone: true };
}

/** `io.to(room)`, `socket.broadcast`, …: rooms, excepts and flags, then `emit`. */
class BroadcastOperator {
  constructor(nsp, rooms = NO_ROOMS, except = NO_ROOMS, flags = NO_FLAGS) {
    this._nsp = nsp;
    this._rooms = rooms;
    this._except = except;
    this._flags = flags;
  }

  to(room) {
    return new BroadcastOperator(this._nsp, withRooms(this._rooms, room), this._except, this._flags);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return new BroadcastOperator(this._nsp, this._rooms, withRooms(this._except, room), this._flags);
  }

  get volatile() {
    return new BroadcastOperator(this._nsp, this._rooms, this._except, { ...this._flags, volatile: true });
  }

  /** This server only: not sent to the other nodes of the cluster. */
  get local() {
    return new BroadcastOperator(this._nsp, this._rooms, this._except, { ...this._flags, local: true });
  }

  /** `compress(false)`: sent uncompressed even where permessage-deflate is on. */
  compress(flag) {
    return new BroadcastOperator(this._nsp, this._rooms, this._except, { ...this._flags, compress: flag !== false });
  }

  _target() {
    return {
      rooms: this._rooms, except: this._except, volatile: !!this._flags.volatile, local: !!this._flags.local,
      compress: this._flags.compress !== false,
    };
  }

  /** Acks from many: `emit(…, (err, responses))` or `emitWithAck` wait at most `ms`. */
  timeout(ms) {
    return new BroadcastOperator(this._nsp, this._rooms, this._except, { ...this._flags, timeout: ms });
  }

  emit(event, ...args) {
    if (typeof args[args.length - 1] === 'function') {
      const callback = args.pop();
      this._gatherAcks(event, args).then(({ err, responses }) => callback(err, responses));
      return true;
    }
    const native = this._nsp.server._native;
    const [json, attachments] = encodeArgs(args);
    // The common case, one room and nothing else, skips building a target object.
    const flags = this._flags;
    if (this._rooms.length === 1 && this._except.length === 0 && !flags.volatile && !flags.local && flags.compress !== false && !attachments) {
      fast.emitToNamespaceRoom(this._nsp._handle, this._rooms[0], String(event), json);
      return true;
    }
    native.broadcast(this._nsp.name, this._target(), String(event), json, attachments);
    return true;
  }

  /** Resolves with every addressed socket's first ack value; rejects when one timed out. */
  async emitWithAck(event, ...args) {
    const { err, responses } = await this._gatherAcks(event, args);
    if (err) throw err;
    return responses;
  }

  // Every addressed socket, on every server, gets the packet with its own ack id; each one's
  // first value is collected. Without `timeout(ms)` socket.io times out at once, and so does this.
  async _gatherAcks(event, args) {
    const [json, attachments] = encodeArgs(args);
    const native = this._nsp.server._native;
    const collected = await native.broadcastWithAck(this._nsp.name, this._target(), String(event), json, attachments,
      this._flags.timeout ?? 0);
    const values = collected.replies.map((r) => JSON.parse(r.args).map((v) => withAttachments(v, r.attachments))[0]);
    const err = collected.complete ? null : new Error(TIMEOUT_MESSAGE);
    if (this._flags.expectSingleResponse) return { err, responses: err ? null : values[0] };
    return { err, responses: values };
  }

  /** The addressed sockets of every server: this server's as `Socket`, others' as `RemoteSocket`. */
  async fetchSockets() {
    const found = await this._nsp.server._native.fetchSockets(this._nsp.name, this._target()).catch((error) => {
      throw nativeError(error);
    });
    return found.map((info) => (info.local && this._nsp.sockets.get(info.id)) || new RemoteSocket(this._nsp, info));
  }

  socketsJoin(room) {
    this._nsp.server._native.socketsJoin(this._nsp.name, this._target(), [].concat(room).map(String));
  }

  socketsLeave(room) {
    this._nsp.server._native.socketsLeave(this._nsp.name, this._target(), [].concat(room).map(String));
  }

  disconnectSockets(close = false) {
    this._nsp.server._native.disconnectSockets(this._nsp.name, this._target(), !!close);
  }
}

/** A socket `fetchSockets` found on another server (or one this layer does not track). */
class RemoteSocket {
  constructor(nsp, info) {
    this.id = info.id;
    this.handshake = JSON.parse(info.handshake);
    this.rooms = new Set(info.rooms);
    this.data = JSON.parse(info.data);
    this._operator = new BroadcastOperator(nsp, [this.id], NO_ROOMS, { expectSingleResponse: true });
  }

  timeout(ms) {
    return this._operator.timeout(ms);
  }

  emit(event, ...args) {
    return this._operator.emit(event, ...args);
  }

  join(room) {
    return this._operator.socketsJoin(room);
  }

  leave(room) {
    return this._operator.socketsLeave(room);
  }

  disconnect(close = false) {
    this._operator.disconnectSockets(close);
    return this;
  }
}

class Socket extends EventEmitter {
  constructor(nsp, id, recovered) {
    super();
    this.nsp = nsp;
    this.id = id;
    this.recovered = recovered;
    this.connected = true;
    this._data = {};
    this._syncedData = '{}';
    this._anyListeners = [];
    this._middlewares = [];
    this._handshake = undefined;
    this._lastRooms = [id];
    this._timeout = undefined;
    this._volatile = false;
    this._compress = true;
    this._anyOutgoing = [];
    // Once narrowed, only events with a listener cross from the engine (see `_narrow`).
    this._narrowed = false;
    this.on('newListener', (name) => {
      if (this._narrowed && typeof name === 'string' && !SOCKET_EVENTS.has(name)) {
        this.server._native.handleAlso(this.nsp.name, this.id, name);
      }
    });
  }

  // After the connection handlers ran: from now on the engine sends only events this socket has
  // listeners for (socket.io drops the others too), unless `onAny` or `use` want every event.
  _narrow() {
    if (!this.connected || this._anyListeners.length || this._middlewares.length) return;
    const names = this.eventNames().filter((n) => typeof n === 'string' && !SOCKET_EVENTS.has(n));
    this.server._native.handleOnly(this.nsp.name, this.id, names);
    this._narrowed = true;
  }

  _widen() {
    if (!this._narrowed) return;
    this._narrowed = false;
    this.server._native.handleAll(this.nsp.name, this.id);
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
    this.server._native.setData(this.nsp.name, this.id, json);
  }

  get handshake() {
    if (this._handshake === undefined) {
      const json = this.server._native.handshake(this.nsp.name, this.id);
      this._handshake = json == null ? undefined : JSON.parse(json);
    }
    return this._handshake;
  }

  get rooms() {
    const rooms = this.connected ? this.server._native.rooms(this.nsp.name, this.id) : null;
    return new Set(rooms ?? this._lastRooms);
  }

  get conn() {
    const name = this.server._native.transport(this.nsp.name, this.id) ?? 'websocket';
    return { transport: { name } };
  }

  get broadcast() {
    return new BroadcastOperator(this.nsp, NO_ROOMS, [this.id]);
  }

  to(room) {
    return this.broadcast.to(room);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return this.broadcast.except(room);
  }

  emit(event, ...args) {
    if (SOCKET_EVENTS.has(event)) return super.emit(event, ...args);
    const [timeout, volatile, compress] = [this._timeout, this._volatile, this._compress];
    this._timeout = undefined;
    this._volatile = false;
    this._compress = true;
    for (const listener of [...this._anyOutgoing]) listener(event, ...args);
    if (typeof args[args.length - 1] === 'function') {
      const ack = args.pop();
      emitWithAckTo(this, event, args, timeout).then((outcome) => {
        if (outcome.gone) return;
        if (timeout === undefined) ack(...outcome.values);
        else if (outcome.ok) ack(null, ...outcome.values);
        else ack(new Error(TIMEOUT_MESSAGE));
      });
      return true;
    }
    const [json, attachments] = encodeArgs(args);
    const flags = volatile || !compress ? { volatile, compress } : undefined;
    this.server._native.emitToSocket(this.nsp.name, this.id, String(event), json, attachments, flags);
    return true;
  }

  /** The next `emit` is dropped rather than queued when the client is behind. */
  get volatile() {
    this._volatile = true;
    return this;
  }

  /** `compress(false)`: the next `emit` goes out uncompressed even where permessage-deflate is on. */
  compress(flag) {
    this._compress = flag !== false;
    return this;
  }

  onAnyOutgoing(fn) {
    this._anyOutgoing.push(fn);
    return this;
  }

  prependAnyOutgoing(fn) {
    this._anyOutgoing.unshift(fn);
    return this;
  }

  offAnyOutgoing(fn) {
    this._anyOutgoing = fn ? this._anyOutgoing.filter((l) => l !== fn) : [];
    return this;
  }

  listenersAnyOutgoing() {
    return [...this._anyOutgoing];
  }

  /** The next `emit` with an ack waits at most `ms`; its ack gets `(err, ...values)`. */
  timeout(ms) {
    this._timeout = ms;
    return this;
  }

  /** Resolves with the client's first ack value (rejects on `timeout`). */
  emitWithAck(event, ...args) {
    const withTimeout = this._timeout !== undefined;
    return new Promise((resolve, reject) => {
      this.emit(event, ...args, (...reply) => {
        if (!withTimeout) return resolve(reply[0]);
        return reply[0] ? reject(reply[0]) : resolve(reply[1]);
      });
    });
  }

  send(...args) {
    return this.emit('message', ...args);
  }

  join(rooms) {
    this.server._native.join(this.nsp.name, this.id, [].concat(rooms).map(String));
  }

  leave(room) {
    this.server._native.leave(this.nsp.name, this.id, String(room));
  }

  disconnect(close = false) {
    this.server._native.disconnect(this.nsp.name, this.id, !!close);
    return this;
  }

  use(fn) {
    this._middlewares.push(fn);
    this._widen();
    return this;
  }

  onAny(fn) {
    this._anyListeners.push(fn);
    this._widen();
    return this;
  }

  prependAny(fn) {
    this._anyListeners.unshift(fn);
    this._widen();
    return this;
  }

  offAny(fn) {
    this._anyListeners = fn ? this._anyListeners.filter((l) => l !== fn) : [];
    return this;
  }

  listenersAny() {
    return [...this._anyListeners];
  }

  // A client event, in socket.io's order: `onAny` listeners, then the per-packet middlewares,
  // then (on the next tick) the event's own listeners, or `error` when a middleware refused it.
  _dispatch(name, args, ackId) {
    if (ackId !== undefined && ackId !== null) {
      let answered = false;
      args.push((...values) => {
        if (answered) return;
        answered = true;
        this.server._native.ack(ackId, ...encodeArgs(values));
      });
    }
    const packet = [name, ...args];
    for (const listener of [...this._anyListeners]) listener(...packet);
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
          super.emit(...packet);
          this._syncData();
        }
      }),
    );
  }

  // `disconnecting` sees the rooms the socket was in; `disconnect` sees none (as socket.io).
  _closed(reason, rooms) {
    this._lastRooms = [this.id, ...rooms];
    this.connected = false;
    super.emit('disconnecting', reason);
    this._lastRooms = [];
    super.emit('disconnect', reason);
  }
}

class Namespace extends EventEmitter {
  constructor(server, name) {
    super();
    this.server = server;
    this.name = name;
    this._fastHandle = undefined;
    this.sockets = new Map();
    this._middlewares = [];
  }

  // The engine's handle for the fast room emit, taken on first use (a dynamic namespace exists
  // in the engine only once its first client connected).
  get _handle() {
    if (this._fastHandle === undefined) this._fastHandle = this.server._native.namespaceHandle(this.name);
    return this._fastHandle;
  }

  use(fn) {
    if (this._middlewares.length === 0) {
      this.server._native.setMiddleware(this.name, (requestJson) => this._admit(JSON.parse(requestJson)));
    }
    this._middlewares.push(fn);
    return this;
  }

  // The middlewares in order on a socket-to-be: `{accept, data}` admits it with `socket.data`,
  // `{message, data}` refuses it (the client's `connect_error`).
  _admit(request) {
    const candidate = {
      nsp: this,
      handshake: { headers: request.headers, query: request.query, auth: request.auth, address: request.address },
      data: {},
    };
    return new Promise((resolve) => {
      const run = (i) => {
        if (i === this._middlewares.length) return resolve(JSON.stringify({ accept: true, data: candidate.data }));
        try {
          this._middlewares[i](candidate, (err) => {
            if (err) resolve(JSON.stringify({ message: String(err.message ?? err), data: err.data ?? null }));
            else run(i + 1);
          });
        } catch (err) {
          resolve(JSON.stringify({ message: String(err.message ?? err), data: err.data ?? null }));
        }
      };
      run(0);
    });
  }

  to(room) {
    return new BroadcastOperator(this, withRooms(NO_ROOMS, room));
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return new BroadcastOperator(this, NO_ROOMS, withRooms(NO_ROOMS, room));
  }

  get volatile() {
    return new BroadcastOperator(this).volatile;
  }

  get local() {
    return new BroadcastOperator(this).local;
  }

  compress(flag) {
    return new BroadcastOperator(this).compress(flag);
  }

  timeout(ms) {
    return new BroadcastOperator(this).timeout(ms);
  }

  emit(event, ...args) {
    if (event === 'connection' || event === 'connect') return super.emit(event, ...args);
    return new BroadcastOperator(this).emit(event, ...args);
  }

  emitWithAck(event, ...args) {
    return new BroadcastOperator(this).emitWithAck(event, ...args);
  }

  send(...args) {
    return this.emit('message', ...args);
  }

  fetchSockets() {
    return new BroadcastOperator(this).fetchSockets();
  }

  /** An event for the other servers' `io.on(event)` listeners (a last function gets their acks). */
  serverSideEmit(event, ...args) {
    if (RESERVED_NSP_EVENTS.has(event)) throw new Error(`"${String(event)}" is a reserved event name`);
    const native = this.server._native;
    if (typeof args[args.length - 1] !== 'function') {
      native.serverSideEmit(this.name, String(event), JSON.stringify(args));
      return true;
    }
    const ack = args.pop();
    native.serverSideEmitWithAck(this.name, String(event), JSON.stringify(args)).then(
      ({ replies, complete }) => {
        const responses = JSON.parse(replies);
        ack(complete ? null : new Error(`timeout reached: only ${responses.length} responses received`), responses);
      },
      (error) => ack(nativeError(error), []),
    );
    return true;
  }

  serverSideEmitWithAck(event, ...args) {
    return new Promise((resolve, reject) => {
      this.serverSideEmit(event, ...args, (err, responses) => {
        if (err) {
          err.responses = responses;
          return reject(err);
        }
        return resolve(responses);
      });
    });
  }

  // An event another server sent: this namespace's own listeners get it (with an ack when asked).
  _onServerSideEmit(name, args, ackId) {
    if (ackId !== undefined && ackId !== null) {
      let answered = false;
      args.push((value) => {
        if (answered) return;
        answered = true;
        this.server._native.ack(ackId, JSON.stringify([value ?? null]));
      });
    }
    EventEmitter.prototype.emit.call(this, name, ...args);
  }

  /** socket.io's `nsp.adapter`, for the cluster-wide questions apps ask it. */
  get adapter() {
    const native = this.server._native;
    const name = this.name;
    return {
      allRooms: async () => new Set(await native.allRooms(name).catch((e) => { throw nativeError(e); })),
      serverCount: () => native.serverCount(name),
    };
  }

  socketsJoin(room) {
    return new BroadcastOperator(this).socketsJoin(room);
  }

  socketsLeave(room) {
    return new BroadcastOperator(this).socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return new BroadcastOperator(this).disconnectSockets(close);
  }
}

/** `io.of(RegExp | fn)`: namespaces created when a client asks for a matching name. */
class ParentNamespace extends EventEmitter {
  constructor(server, matcher) {
    super();
    this.server = server;
    this._matcher = matcher;
    this._middlewares = [];
    this.children = new Set();
  }

  use(fn) {
    this._middlewares.push(fn);
    return this;
  }

  _matches(name, auth) {
    if (this._matcher instanceof RegExp) return Promise.resolve(this._matcher.test(name));
    return new Promise((resolve) => {
      try {
        this._matcher(name, auth, (err, ok) => resolve(!err && !!ok));
      } catch {
        resolve(false);
      }
    });
  }

  // A child shares the parent's middlewares and reports its connections to the parent.
  _adopt(child) {
    child._middlewares = this._middlewares;
    child._parent = this;
    child.on('connection', (socket) => this.emit('connection', socket));
    this.children.add(child);
  }

  emit(event, ...args) {
    if (event === 'connection' || event === 'connect') return super.emit(event, ...args);
    for (const child of this.children) child.emit(event, ...args);
    return true;
  }
}

class Server extends EventEmitter {
  /** `new Server()`, `new Server(port, opts)`, `new Server(httpServer, opts)`, `new Server(opts)`. */
  constructor(srv, opts, native) {
    super();
    if (srv && typeof srv === 'object' && typeof srv.listen !== 'function') [srv, opts] = [undefined, srv];
    this.opts = opts || {};
    this._native = native || new NativeIo(toNativeOptions(this.opts));
    if (this.opts.allowRequest !== undefined) setAllowRequest(this._native, this.opts.allowRequest);
    this._nsps = new Map();
    this._native.setEventHandler((event) => this._onEvent(event));
    // socket.io's `io.engine`: here the refused requests (`connection_error`).
    this.engine = new EventEmitter();
    this._native.setConnectionErrorHandler((json) => {
      const { code, message, req } = JSON.parse(json);
      this.engine.emit('connection_error', { code, message, req, context: {} });
    });
    this.sockets = this.of('/');
    if (this.opts.adapter !== undefined) this.adapter(this.opts.adapter);
    this.httpServer = undefined;
    if (typeof srv === 'number' || typeof srv === 'string') this.listen(Number(srv));
    else if (srv) this.attach(srv);
  }

  of(name) {
    if (name instanceof RegExp || typeof name === 'function') return this._parent(name);
    const nsp = name.startsWith('/') ? name : `/${name}`;
    let namespace = this._nsps.get(nsp);
    if (!namespace) {
      this._native.of(nsp);
      namespace = new Namespace(this, nsp);
      this._nsps.set(nsp, namespace);
    }
    return namespace;
  }

  _parent(matcher) {
    const parent = new ParentNamespace(this, matcher);
    if (!this._parents) {
      this._parents = [];
      this._native.setDynamicNamespaces(
        (requestJson) => this._matchDynamic(JSON.parse(requestJson)),
        (requestJson) => {
          const request = JSON.parse(requestJson);
          const child = this._nsps.get(request.nsp);
          return child ? child._admit(request) : Promise.resolve(JSON.stringify({ message: 'Invalid namespace' }));
        },
      );
    }
    this._parents.push(parent);
    return parent;
  }

  // The first parent whose matcher accepts `nsp` gets the new child namespace.
  async _matchDynamic({ nsp, auth }) {
    for (const parent of this._parents) {
      if (await parent._matches(nsp, auth)) {
        if (!this._nsps.has(nsp)) {
          const child = new Namespace(this, nsp);
          parent._adopt(child);
          this._nsps.set(nsp, child);
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
   */
  adapter(adapter) {
    if (adapter === undefined) return this._adapter;
    if (!adapter || !adapter[REDIS_ADAPTER]) throw new TypeError('roomcast Server: adapter must come from createRedisAdapter(url, opts) or createShardedAdapter(urls, opts)');
    try {
      this._native.useRedis(adapter.url, adapter.key, adapter.requestsTimeout, adapter.sharded, adapter.subscriptionMode);
    } catch (error) {
      throw nativeError(error);
    }
    this._adapter = adapter;
    this._relayRequestsHere();
    return this;
  }

  use(fn) {
    this.sockets.use(fn);
    return this;
  }

  // As in socket.io, listeners go to the main namespace (`connection`, server-side events);
  // `error` stays on the server (a failed `listen`).
  on(event, listener) {
    if (event === 'error') return super.on(event, listener);
    this.sockets.on(event, listener);
    return this;
  }

  once(event, listener) {
    if (event === 'error') return super.once(event, listener);
    this.sockets.once(event, listener);
    return this;
  }

  off(event, listener) {
    if (event === 'error') return super.off(event, listener);
    this.sockets.off(event, listener);
    return this;
  }

  serverSideEmit(event, ...args) {
    return this.sockets.serverSideEmit(event, ...args);
  }

  serverSideEmitWithAck(event, ...args) {
    return this.sockets.serverSideEmitWithAck(event, ...args);
  }

  to(room) {
    return this.sockets.to(room);
  }

  in(room) {
    return this.sockets.in(room);
  }

  except(room) {
    return this.sockets.except(room);
  }

  get volatile() {
    return this.sockets.volatile;
  }

  get local() {
    return this.sockets.local;
  }

  timeout(ms) {
    return this.sockets.timeout(ms);
  }

  emit(event, ...args) {
    return this.sockets.emit(event, ...args);
  }

  emitWithAck(event, ...args) {
    return this.sockets.emitWithAck(event, ...args);
  }

  send(...args) {
    return this.sockets.send(...args);
  }

  fetchSockets() {
    return this.sockets.fetchSockets();
  }

  socketsJoin(room) {
    return this.sockets.socketsJoin(room);
  }

  socketsLeave(room) {
    return this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return this.sockets.disconnectSockets(close);
  }

  /** Serves on its own port (socket.io's `listen`); `port` absent: any free port. */
  listen(port, options) {
    if (options) throw new TypeError('roomcast Server: pass options to the constructor');
    this._listening = this._native
      .start(port, undefined)
      .then((bound) => {
        this.port = bound.port;
        this._keepAlive = setInterval(() => {}, 2 ** 30);
        return bound;
      })
      .catch((error) => {
        throw nativeError(error);
      });
    this._listening.catch((error) => EventEmitter.prototype.emit.call(this, 'error', error));
    this._relayRequestsHere();
    return this;
  }

  /** Resolves with `{host, port}` once `listen` bound its port. */
  get listening() {
    return this._listening ?? Promise.resolve(undefined);
  }

  /** Serves on an existing `http.Server`, sharing its port. */
  attach(httpServer) {
    this.httpServer = httpServer;
    this._detach = attachToHttpServer(this._native, httpServer, this._native.path(),
      (error) => EventEmitter.prototype.emit.call(this, 'error', error));
    this._relayRequestsHere();
    return this;
  }

  // Clustered: the other servers relay requests for this server's sessions to where it
  // listens (or to the adapter's `relayAddress`), so a load balancer needs no sticky sessions.
  _relayRequestsHere() {
    if (!this._adapter) return;
    const announce = (address) => {
      try {
        this._native.relayRequestsAt(address);
      } catch (error) {
        EventEmitter.prototype.emit.call(this, 'error', nativeError(error));
      }
    };
    const hostPort = (host, port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    if (this._adapter.relayAddress) {
      announce(this._adapter.relayAddress);
    } else if (this.httpServer) {
      const fromServer = () => {
        const bound = this.httpServer.address();
        if (bound && typeof bound === 'object') announce(hostPort(bound.address, bound.port));
      };
      if (this.httpServer.listening) fromServer();
      else this.httpServer.once('listening', fromServer);
    } else if (this._listening) {
      this._listening.then((bound) => bound && announce(hostPort(bound.host, bound.port)), () => {});
    }
  }

  async close(callback) {
    if (this._detach) this._detach();
    this._detach = undefined;
    clearInterval(this._keepAlive);
    try {
      // A view over another class's engine (`WebSocketServer#io`) leaves the engine to it.
      if (!this._view) await this._native.close();
      if (this.httpServer) await new Promise((resolve) => this.httpServer.close(() => resolve()));
      if (callback) callback();
    } catch (error) {
      if (callback) callback(nativeError(error));
      else throw nativeError(error);
    }
  }

  _onEvent(event) {
    const nsp = this._nsps.get(event.nsp);
    if (!nsp) return;
    if (event.kind === 'serverSideEmit') {
      nsp._onServerSideEmit(event.name, JSON.parse(event.args), event.ackId);
      return;
    }
    if (event.kind === 'connection') {
      const socket = new Socket(nsp, event.socketId, !!event.recovered);
      if (event.data) {
        socket._data = JSON.parse(event.data);
        socket._syncedData = event.data;
      }
      nsp.sockets.set(socket.id, socket);
      nsp.emit('connection', socket);
      nsp.emit('connect', socket);
      socket._syncData();
      socket._narrow();
      return;
    }
    const socket = nsp.sockets.get(event.socketId);
    if (!socket) return;
    if (event.kind === 'disconnect') {
      nsp.sockets.delete(socket.id);
      socket._closed(event.name, event.rooms || []);
      return;
    }
    const args = JSON.parse(event.args).map((v) => withAttachments(v, event.attachments));
    socket._dispatch(event.name, args, event.ackId);
  }
}

/** The Server API over an engine another class runs (`WebSocketServer#io`). */
function serverOver(native) {
  const server = new Server(undefined, undefined, native);
  server._view = true;
  return server;
}

module.exports = { Server, Namespace, ParentNamespace, Socket, RemoteSocket, BroadcastOperator, createRedisAdapter, createShardedAdapter, serverOver };
