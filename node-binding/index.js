'use strict';
// @ts-check
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

// One assignment per name, so that ESM's `import { Server } from 'roomcast'` finds them too.
module.exports = roomcast;
module.exports.Server = Server;
module.exports.Namespace = Namespace;
module.exports.ParentNamespace = ParentNamespace;
module.exports.Socket = Socket;
module.exports.RemoteSocket = RemoteSocket;
module.exports.BroadcastOperator = BroadcastOperator;
module.exports.createRedisAdapter = createRedisAdapter;
module.exports.createShardedAdapter = createShardedAdapter;
module.exports.WebSocketServer = WebSocketServer;
module.exports.NativeServer = binding.NativeServer;
module.exports.default = roomcast;
