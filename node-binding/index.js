'use strict';
// roomcast for Node: socket.io's server API (`Server`, `Namespace`, `Socket`, broadcast
// operators, the Redis adapters) and the trading dashboard's `WebSocketServer` preset, both on
// the native engine. As socket.io's package, the module itself is callable:
// `require('roomcast')(httpServer, opts)` is `new Server(httpServer, opts)`.

const { binding } = require('./lib/binding.js');
const { Server } = require('./lib/server.js');
const { Namespace } = require('./lib/namespace.js');
const { ParentNamespace } = require('./lib/parent-namespace.js');
const { Socket } = require('./lib/socket.js');
const { BroadcastOperator, RemoteSocket } = require('./lib/broadcast-operator.js');
const { createRedisAdapter, createShardedAdapter } = require('./lib/redis-adapter.js');
const { WebSocketServer } = require('./lib/websocket-server.js');

/**
 * @param {any} [srv]
 * @param {Record<string, any>} [opts]
 */
function roomcast(srv, opts) {
  return new Server(srv, opts);
}

module.exports = Object.assign(roomcast, {
  Server,
  Namespace,
  ParentNamespace,
  Socket,
  RemoteSocket,
  BroadcastOperator,
  createRedisAdapter,
  createShardedAdapter,
  WebSocketServer,
  NativeServer: binding.NativeServer,
  default: roomcast,
});
